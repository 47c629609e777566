"""``start_node`` / ``run_node``: a node built from a plain ``NodeConfig`` and the
ports handed to it, with no app in sight (an authenticator of our own here)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sig_helpers import WAIT, Client

from signaling.actions import Admission
from signaling.asyncio.runner import NodeConfig, run_node, start_node
from signaling.errors import AuthError, CloseCode, ErrorCode
from signaling.events import EventKind, MemoryEventSink
from signaling.messages import Role

# token -> admission: the port is all a node knows about tokens.
ADMISSIONS = {
    "res": Admission("r1", Role.RESIDENT, "p1", "山田"),
    "staff": Admission("r1", Role.STAFF, "s1", "佐藤"),
}


def authenticate(token: str, now: datetime) -> Admission:
    try:
        return ADMISSIONS[token]
    except KeyError:
        raise AuthError(code=ErrorCode.TOKEN_INVALID) from None


def join(token: str) -> dict[str, object]:
    return {"type": "join", "v": 1, "room": "r1", "token": token}


async def test_a_node_uses_the_injected_authenticator_sink_and_closers() -> None:
    sink = MemoryEventSink()
    closed: list[str] = []

    async def close_sink() -> None:
        closed.append("sink")

    config = NodeConfig(port=0, node="n1")
    server = await start_node(config, authenticate=authenticate, sink=sink, on_close=[close_sink])
    try:
        stranger = await Client.open(server.url)
        await stranger.send(join("forged"))
        code, seen = await stranger.closed()
        assert code == CloseCode.TOKEN_INVALID
        assert [m.type for m in seen] == ["error"]
        resident = await Client.open(server.url)
        await resident.send(join("res"))
        await resident.expect("joined")
        staff = await Client.open(server.url)
        await staff.send(join("staff"))
        await staff.expect("joined")
        await resident.expect("peer-joined")
        await resident.expect("room-state")
        await staff.send({"type": "end"})
        assert (await resident.expect("ended")).by == "s1"
    finally:
        await server.close()
    assert closed == ["sink"]
    assert sink.kinds("r1")[:3] == [EventKind.JOIN, EventKind.JOIN, EventKind.CALL_END]

    # A node started on the same sink refuses the ended room.
    server = await start_node(config, authenticate=authenticate, sink=sink)
    try:
        again = await Client.open(server.url)
        await again.send(join("res"))
        code, _ = await again.closed()
        assert code == CloseCode.ROOM_ENDED
    finally:
        await server.close()


async def test_run_node_serves_until_stopped() -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(run_node(NodeConfig(port=0), authenticate=authenticate, stop=stop))
    await asyncio.sleep(0)
    stop.set()
    async with asyncio.timeout(WAIT):
        await task
