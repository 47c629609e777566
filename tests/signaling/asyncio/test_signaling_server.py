"""A real server on 127.0.0.1 port 0 and real ``websockets`` clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
from sig_helpers import Client, issue, make_server, pair

from app.core.tokens import Purpose
from signaling.asyncio.server import SignalingServer
from signaling.core import CoreConfig
from signaling.errors import CloseCode
from signaling.events import EventKind, MemoryEventSink
from signaling.messages import RoomState

ROOM = "room-1"


@pytest.fixture
async def sink() -> MemoryEventSink:
    return MemoryEventSink()


@pytest.fixture
async def server(sink: MemoryEventSink) -> AsyncIterator[SignalingServer]:
    config = CoreConfig(grace_seconds=0.5)
    async with make_server(sink=sink, config=config) as srv:
        yield srv


async def test_waiting_room_then_staff_joins_and_negotiates(
    server: SignalingServer, sink: MemoryEventSink
) -> None:
    resident = await Client.open(server.url)
    joined = await resident.join(ROOM, issue(ROOM, "resident", "r1"), role="resident")
    assert joined.state is RoomState.WAITING and joined.peers == ()

    staff = await Client.open(server.url)
    staff_joined = await staff.join(ROOM, issue(ROOM, "staff", "s1"))
    assert staff_joined.state is RoomState.ACTIVE
    assert [(p.id, p.initiator) for p in staff_joined.peers] == [("r1", True)]
    peer_joined = await resident.expect("peer-joined")
    assert (peer_joined.peer.id, peer_joined.peer.initiator) == ("s1", False)
    assert (await resident.expect("room-state")).state is RoomState.ACTIVE

    await staff.send({"type": "offer", "to": "r1", "sdp": "v=0\r\noffer"})
    offer = await resident.expect("offer")
    assert (offer.from_, offer.sdp) == ("s1", "v=0\r\noffer")
    await resident.send({"type": "answer", "to": "s1", "sdp": "v=0\r\nanswer"})
    assert (await staff.expect("answer")).sdp == "v=0\r\nanswer"
    candidate = {
        "candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host",
        "sdpMid": "0",
        "sdpMLineIndex": 0,
        "usernameFragment": "abcd",
    }
    await resident.send({"type": "candidate", "to": "s1", "candidate": candidate})
    relayed = await staff.expect("candidate")
    assert relayed.candidate.to_wire() == candidate and relayed.from_ == "r1"
    await resident.send({"type": "candidate", "to": "s1", "candidate": None})
    assert (await staff.expect("candidate")).candidate is None

    await resident.send({"type": "connected", "peer": "s1"})
    await staff.send({"type": "connected", "peer": "r1"})
    await staff.send({"type": "ping", "nonce": "sync"})
    assert (await staff.expect("pong")).nonce == "sync"
    await resident.send({"type": "ping"})
    await resident.expect("pong")
    assert sink.kinds(ROOM) == [EventKind.JOIN, EventKind.JOIN, EventKind.CALL_START]


# --------------------------------------------------------------------- security


@pytest.mark.parametrize(
    ("make_token", "extra", "code", "close"),
    [
        pytest.param(
            lambda: issue("other-room", "resident", "r1"), {}, "wrong-room", 4004, id="wrong-room"
        ),
        pytest.param(
            lambda: issue(ROOM, "resident", "r1"),
            {"role": "staff"},
            "wrong-role",
            4005,
            id="wrong-role",
        ),
        pytest.param(
            lambda: issue(ROOM, "resident", "r1", closes=timedelta(seconds=-1)),
            {},
            "token-expired",
            4002,
            id="expired",
        ),
        pytest.param(
            lambda: issue(ROOM, "resident", "r1", opens=timedelta(minutes=15)),
            {},
            "token-not-yet-valid",
            4003,
            id="not-yet-valid",
        ),
        pytest.param(
            lambda: issue(ROOM, "resident", "r1")[:-3] + "AAA",
            {},
            "token-invalid",
            4001,
            id="tampered",
        ),
        pytest.param(
            lambda: issue(ROOM, "resident", "r1", purpose=Purpose.MANAGE),
            {},
            "token-invalid",
            4001,
            id="other-purpose",
        ),
        pytest.param(
            lambda: issue(ROOM, "mayor", "r1"), {}, "token-invalid", 4001, id="unknown-role"
        ),
        pytest.param(
            lambda: issue(ROOM, "resident", "r1"),
            {"v": 2},
            "unsupported-version",
            4011,
            id="version",
        ),
    ],
)
async def test_refused_joins(
    server: SignalingServer,
    make_token: Callable[[], str],
    extra: dict[str, object],
    code: str,
    close: int,
) -> None:
    # Issued here, not at collection: a time-bound token made when the suite
    # starts can have turned valid (or expired) by the time this test runs.
    token = make_token()
    client = await Client.open(server.url)
    await client.send({"type": "join", "v": 1, "room": ROOM, "token": token, **extra})
    close_code, seen = await client.closed()
    assert [(m.type, getattr(m, "code", None)) for m in seen] == [("error", code)]
    assert close_code == close


async def test_resident_cannot_end_and_staff_end_refuses_replay(
    server: SignalingServer, sink: MemoryEventSink
) -> None:
    resident, staff = await pair(server.url)
    await resident.send({"type": "end"})
    assert (await resident.expect("error")).code == "forbidden"

    await staff.send({"type": "end"})
    for client in (resident, staff):
        code, seen = await client.closed()
        assert [m.type for m in seen] == ["ended"] and code == CloseCode.CALL_ENDED
    assert EventKind.CALL_END in sink.kinds(ROOM)

    for role, pid in [("resident", f"{ROOM}-res"), ("staff", f"{ROOM}-staff")]:
        again = await Client.open(server.url)
        await again.send({"type": "join", "v": 1, "room": ROOM, "token": issue(ROOM, role, pid)})
        code, seen = await again.closed()
        assert [getattr(m, "code", None) for m in seen] == ["room-ended"]
        assert code == CloseCode.ROOM_ENDED


async def test_over_capacity_is_refused(server: SignalingServer) -> None:
    await pair(server.url)
    for role, pid in [("resident", "intruder"), ("kiosk", "kiosk-9"), ("staff", "staff-9")]:
        extra = await Client.open(server.url)
        await extra.send({"type": "join", "v": 1, "room": ROOM, "token": issue(ROOM, role, pid)})
        code, seen = await extra.closed()
        assert [getattr(m, "code", None) for m in seen] == ["room-full"]
        assert code == CloseCode.ROOM_FULL


async def test_ended_room_is_refused_after_a_restart() -> None:
    async with make_server(ended_rooms={ROOM}) as srv:
        client = await Client.open(srv.url)
        await client.send(
            {"type": "join", "v": 1, "room": ROOM, "token": issue(ROOM, "resident", "r1")}
        )
        code, _ = await client.closed()
        assert code == CloseCode.ROOM_ENDED


# -------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        pytest.param("{oops", "bad-json", id="malformed-json"),
        pytest.param(json.dumps({"type": "teleport"}), "unknown-type", id="unknown-type"),
        pytest.param(
            json.dumps({"type": "offer", "to": f"{ROOM}-res"}), "invalid-message", id="no-sdp"
        ),
        pytest.param(
            json.dumps(
                {"type": "offer", "to": f"{ROOM}-res", "sdp": "v=0\r\n" + "a=x\r\n" * 20_000}
            ),
            "too-large",
            id="oversized-sdp",
        ),
        pytest.param(
            json.dumps({"type": "candidate", "to": "nobody", "candidate": None}),
            "unknown-peer",
            id="candidate-unknown-peer",
        ),
        pytest.param(b"\x00\x01binary", "binary-not-supported", id="binary"),
    ],
)
async def test_bad_frames_get_an_error_and_the_call_carries_on(
    server: SignalingServer, frame: str | bytes, code: str
) -> None:
    resident, staff = await pair(server.url)
    await staff.send(frame)
    error = await staff.expect("error")
    assert error.code == code and error.message and error.message_ja
    await staff.send({"type": "offer", "to": f"{ROOM}-res", "sdp": "v=0"})
    assert (await resident.expect("offer")).sdp == "v=0"


async def test_frame_over_the_transport_limit_closes_with_1009(server: SignalingServer) -> None:
    client = await Client.open(server.url)
    await client.send("x" * (1024 * 1024 + 1))
    code, _ = await client.closed()
    assert code == 1009


async def test_abuse_closes_only_that_connection(server: SignalingServer) -> None:
    resident, staff = await pair(server.url)
    abuser = await Client.open(server.url)
    for _ in range(25):
        await abuser.send("not json")
    code, seen = await abuser.closed()
    assert code == CloseCode.POLICY_VIOLATION
    assert getattr(seen[-1], "code", None) == "abuse"
    await staff.send({"type": "offer", "to": f"{ROOM}-res", "sdp": "still here"})
    assert (await resident.expect("offer")).sdp == "still here"


# ----------------------------------------------------------------- reconnection


async def test_resume_within_grace_negotiates_an_ice_restart(sink: MemoryEventSink) -> None:
    async with make_server(sink=sink) as server:  # default 30 s grace
        await _resume_scenario(server, sink)


async def _resume_scenario(server: SignalingServer, sink: MemoryEventSink) -> None:
    resident = await Client.open(server.url)
    token = issue(ROOM, "resident", "r1")
    joined = await resident.join(ROOM, token)
    staff = await Client.open(server.url)
    await staff.join(ROOM, issue(ROOM, "staff", "s1"))
    await resident.expect("peer-joined")

    resident.ws.transport.abort()  # the phone drops off Wi-Fi
    reconnecting = await staff.expect("peer-reconnecting")
    assert reconnecting.peer == "r1"

    back = await Client.open(server.url)
    rejoined = await back.join(ROOM, token, resume=joined.session)
    assert rejoined.resumed and [p.id for p in rejoined.peers] == ["s1"]
    resumed = await staff.expect("peer-resumed")
    assert (resumed.peer, resumed.initiator) == ("r1", True)
    await staff.send({"type": "offer", "to": "r1", "sdp": "ice-restart"})
    assert (await back.expect("offer")).sdp == "ice-restart"
    assert sink.kinds(ROOM)[-2:] == [EventKind.RECONNECTING, EventKind.RESUMED]


async def test_seat_is_released_after_the_grace_period(
    server: SignalingServer, sink: MemoryEventSink
) -> None:
    resident, staff = await pair(server.url)
    staff.ws.transport.abort()
    assert (await resident.expect("peer-reconnecting")).grace == 1
    left = await resident.expect("peer-left")
    assert (left.peer, left.reason.value) == (f"{ROOM}-staff", "timeout")
    assert (await resident.expect("room-state")).state is RoomState.WAITING
    assert sink.kinds(ROOM)[-1] is EventKind.LEAVE


async def test_graceful_shutdown_tells_clients_to_reconnect() -> None:
    srv = make_server()
    await srv.start()
    resident, _staff = await pair(srv.url)
    await srv.close()
    code, _ = await resident.closed()
    assert code == CloseCode.SERVICE_RESTART


async def test_many_rooms_are_isolated(server: SignalingServer) -> None:
    pairs = await asyncio.gather(*(pair(server.url, f"room-{i}") for i in range(10)))
    for i, (_resident, staff) in enumerate(pairs):
        await staff.send({"type": "offer", "to": f"room-{i}-res", "sdp": f"sdp-{i}"})
    for i, (resident, _staff) in enumerate(pairs):
        assert (await resident.expect("offer")).sdp == f"sdp-{i}"
    # Addressing a participant of another room is an unknown peer.
    await pairs[0][1].send({"type": "offer", "to": "room-1-res", "sdp": "x"})
    assert (await pairs[0][1].expect("error")).code == "unknown-peer"


async def test_fragmented_messages_take_the_queued_path_in_order(server: SignalingServer) -> None:
    resident, staff = await pair(server.url)
    offer = json.dumps({"type": "offer", "to": f"{ROOM}-res", "sdp": "fragmented"})
    await staff.ws.send([offer[:10], offer[10:30], offer[30:]])
    await staff.send({"type": "offer", "to": f"{ROOM}-res", "sdp": "whole, after"})
    assert (await resident.expect("offer")).sdp == "fragmented"
    assert (await resident.expect("offer")).sdp == "whole, after"


async def test_invalid_utf8_in_a_text_frame_fails_the_connection(server: SignalingServer) -> None:
    client = await Client.open(server.url)
    await client.ws.send(b'{"type":"ping","nonce":"\xff"}', text=True)
    code, _ = await client.closed()
    assert code == 1007
