"""Thousands of malformed frames at a real server while a healthy call relays.

The server must answer every frame (an ``error`` or a legitimate reply), never
crash, close only the abusive connection, and the healthy pair in another room
must keep relaying in order throughout.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sig_helpers import Client, issue, make_server, pair
from websockets.exceptions import ConnectionClosed

from signaling.asyncio.server import SignalingServer

TYPES = [
    "join", "offer", "answer", "candidate", "leave", "end", "ping", "connected",
    "restart-ice", "joined", "error", "", "OFFER", "peer-joined",
]  # fmt: skip
KEYS = ["type", "to", "sdp", "candidate", "v", "room", "token", "role", "resume", "peer", "nonce"]

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
shaped = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES)},
    optional={key: json_values for key in KEYS if key != "type"},
).map(json.dumps)
candidates = st.fixed_dictionaries(
    {
        "type": st.just("candidate"),
        "to": st.sampled_from(["fuzz", "nobody", "", "x" * 200]),
        "candidate": st.none()
        | st.fixed_dictionaries(
            {"candidate": st.text(max_size=50)},
            optional={"sdpMid": json_values, "sdpMLineIndex": json_values},
        ),
    }
).map(json.dumps)
frames = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200),
    shaped,
    candidates,
    json_values.map(json.dumps),
    st.just('{"type":"offer","to":"a","sdp":"' + "s" * 70_000 + '"}'),
    st.just("[" * 10_000),  # deep nesting
    st.just('{"type":"ping","nonce":NaN}'),
)


class HealthyCall:
    """Staff offers n, resident answers n, forever; records what went wrong."""

    def __init__(self, resident: Client, staff: Client, room: str) -> None:
        self.resident, self.staff, self.room = resident, staff, room
        self.rounds = 0
        self.problems: list[str] = []
        self.progressed = asyncio.Event()

    async def run(self) -> None:
        for n in itertools.count():
            await self.staff.send({"type": "offer", "to": f"{self.room}-res", "sdp": f"offer {n}"})
            offer = await self.resident.recv()
            if offer.type != "offer" or getattr(offer, "sdp", None) != f"offer {n}":
                self.problems.append(f"round {n}: resident got {offer!r}")
                return
            await self.resident.send(
                {"type": "answer", "to": f"{self.room}-staff", "sdp": f"answer {n}"}
            )
            answer = await self.staff.recv()
            if answer.type != "answer" or getattr(answer, "sdp", None) != f"answer {n}":
                self.problems.append(f"round {n}: staff got {answer!r}")
                return
            self.rounds += 1
            self.progressed.set()


@pytest.fixture
async def fuzz_target() -> AsyncIterator[tuple[SignalingServer, HealthyCall]]:
    async with make_server() as server:
        resident, staff = await pair(server.url, "healthy")
        call = HealthyCall(resident, staff, "healthy")
        task = asyncio.create_task(call.run())
        yield server, call
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


_rooms = itertools.count()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(frames, min_size=1, max_size=40), joined=st.booleans())
async def test_fuzzed_frames_never_break_the_server_or_a_healthy_call(
    fuzz_target: tuple[SignalingServer, HealthyCall], batch: list[str | bytes], joined: bool
) -> None:
    server, call = fuzz_target
    client = await Client.open(server.url)
    if joined:
        room = f"fuzz-{next(_rooms)}"
        await client.join(room, issue(room, "resident", "fuzz"))
    replies: list[Any] = []
    close_code: int | None = None
    try:
        for frame in batch:
            await client.send(frame)
        await client.send({"type": "ping", "nonce": "end"})
        while True:  # every frame is answered before our ping's pong
            message = await client.recv()
            if message.type == "pong" and getattr(message, "nonce", None) == "end":
                break
            replies.append(message)
    except ConnectionClosed as exc:
        close_code = exc.rcvd.code if exc.rcvd else -1
    finally:
        await client.close()
    if close_code is not None:
        # A documented close: abuse, frame too big, `leave`, or a refused join.
        assert close_code in {1000, 1008, 1009} | set(range(4001, 4012))
    else:
        assert all(m.type in {"error", "pong", "joined", "waiting"} for m in replies), replies
    assert call.problems == []


async def test_healthy_call_kept_relaying_during_fuzzing(
    fuzz_target: tuple[SignalingServer, HealthyCall],
) -> None:
    server, call = fuzz_target
    client = await Client.open(server.url)
    for _ in range(30):
        await client.send("garbage")
    code, _ = await client.closed()
    assert code == 1008
    for _ in range(5):
        call.progressed.clear()
        await call.progressed.wait()
    assert call.problems == []
