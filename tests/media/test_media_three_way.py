"""Three participants and hand-overs, with real aiortc peers in a private namespace.

The media path is a mesh (docs/architecture.md, "Three participants"): every
pair of participants has its own peer connection, negotiated through the
signaling server, which never touches media. So a 3-way call must show every
participant decoding the *two* others' video, each on its own link.

A hand-over never touches the visitor's seat: the resident's signaling socket
must stay the one it joined on (one join, no drop) while staff change.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from call_harness import SECRET, TIMEOUT
from test_media_call import assert_media_flows

from app.core.settings import Settings
from app.core.tokens import Purpose, Tokens
from app.signaling_node import start_signaling
from media.client import CallClient
from media.loopback import NetworkNamespace
from signaling.asyncio.server import SignalingServer
from signaling.events import EventKind, MemoryEventSink
from signaling.messages import RoomState, TransferMode

pytestmark = pytest.mark.media

ROOM = "bk-media-3way"


def token(role: str, pid: str, *, handover: bool = False) -> str:
    now = datetime.now(UTC)
    claims: dict[str, object] = {"room": ROOM, "role": role, "pid": pid, "name": f"test {pid}"}
    if handover:
        claims["handover"] = True
    return Tokens(SECRET).issue(
        Purpose.JOIN,
        claims,
        not_before=now - timedelta(minutes=1),
        expires=now + timedelta(hours=1),
    )


@contextlib.asynccontextmanager
async def node() -> AsyncIterator[SignalingServer]:
    server = await start_signaling(
        Settings(mode="demo", secret_key=SECRET), host="127.0.0.1", port=0, node="n1"
    )
    try:
        yield server
    finally:
        await server.close()


async def wait_for_events(sink: MemoryEventSink, predicate: Callable[[], bool]) -> None:
    async def poll() -> None:
        # The memory sink has no notification to wait on; poll its list.
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), TIMEOUT)


def test_three_way_call_every_participant_decodes_the_other_two(netns: NetworkNamespace) -> None:
    async def scenario() -> None:
        async with node() as server:
            people = {
                "r-1": CallClient(server.url, room=ROOM, token=token("resident", "r-1")),
                "s-1": CallClient(server.url, room=ROOM, token=token("staff", "s-1")),
                "i-1": CallClient(server.url, room=ROOM, token=token("interpreter", "i-1")),
            }
            try:
                for client in people.values():
                    await client.start()
                for me, client in people.items():
                    others = [pid for pid in people if pid != me]
                    for other in others:
                        link = await asyncio.wait_for(client.wait_connected(other), TIMEOUT)
                        await assert_media_flows(link)
                    # One link per other participant, none to itself, each its own connection.
                    assert sorted(client.links) == sorted(others)
                    pcs = {id(link.pc) for link in client.links.values()}
                    assert len(pcs) == 2
                    stats = await client.stats()
                    assert all(s.video_frames > 0 for s in stats.links)
            finally:
                for client in people.values():
                    await client.leave()

    netns.run(scenario)


@pytest.mark.parametrize("mode", [TransferMode.WARM, TransferMode.COLD])
def test_hand_over_keeps_the_resident_in_the_room(
    netns: NetworkNamespace, mode: TransferMode
) -> None:
    async def scenario() -> None:
        async with node() as server:
            sink = server.sink
            assert isinstance(sink, MemoryEventSink)
            resident = CallClient(server.url, room=ROOM, token=token("resident", "r-1"))
            first = CallClient(server.url, room=ROOM, token=token("staff", "s-1"))
            # Warm: the next staff member joins beside the first with a hand-over
            # ticket; cold: the staff seat is free again, an ordinary ticket will do.
            warm = mode is TransferMode.WARM
            second = CallClient(server.url, room=ROOM, token=token("staff", "s-2", handover=warm))
            clients = [resident, first, second]
            try:
                await resident.start()
                await first.start()
                link = await asyncio.wait_for(resident.wait_connected("s-1"), TIMEOUT)
                await assert_media_flows(link)

                await first.transfer(mode, target="s-2", department="kokuho")
                await asyncio.wait_for(resident.wait_until(lambda: bool(resident.transfers)), 20)
                notice = resident.transfers[0]
                assert (notice.by, notice.target, notice.mode) == ("s-1", "s-2", mode)
                if warm:
                    await second.start()
                    # Both staff briefly present with the resident: three links each.
                    await asyncio.wait_for(first.wait_connected("s-2"), TIMEOUT)
                    await asyncio.wait_for(resident.wait_connected("s-2"), TIMEOUT)
                    await first.leave()
                else:
                    await first.leave()
                    await asyncio.wait_for(
                        resident.wait_until(lambda: resident.state is RoomState.WAITING), TIMEOUT
                    )
                    await second.start()

                link = await asyncio.wait_for(resident.wait_connected("s-2"), TIMEOUT)
                await asyncio.wait_for(resident.wait_until(lambda: "s-1" not in resident.peers), 20)
                await assert_media_flows(link)
                back = await asyncio.wait_for(second.wait_connected("r-1"), TIMEOUT)
                await assert_media_flows(back)
                assert resident.state is RoomState.ACTIVE

                # The resident's signaling socket was never dropped nor re-joined.
                stats = await resident.stats()
                assert (stats.joins, stats.socket_drops, stats.resumes) == (1, 0, 0)

                def recorded() -> bool:
                    return EventKind.LEAVE in [
                        e.kind for e in sink.events if e.participant == "s-1"
                    ]

                await wait_for_events(sink, recorded)
                trail = [
                    (e.kind, e.participant)
                    for e in sink.events
                    if e.room == ROOM and e.kind is not EventKind.CALL_START
                ]
                assert (EventKind.TRANSFER, "s-1") in trail
                assert trail.index((EventKind.TRANSFER, "s-1")) < trail.index(
                    (EventKind.JOIN, "s-2")
                )
                assert (EventKind.LEAVE, "r-1") not in trail
                joins = {e.participant: e.detail for e in sink.events if e.kind is EventKind.JOIN}
                assert joins["s-2"]["name"] == "test s-2"
                assert ("handover" in joins["s-2"]) is warm
                transfer = next(e for e in sink.events if e.kind is EventKind.TRANSFER)
                assert transfer.detail == {
                    "mode": mode.value,
                    "target": "s-2",
                    "department": "kokuho",
                }
            finally:
                for client in clients:
                    await client.leave()

    netns.run(scenario)
