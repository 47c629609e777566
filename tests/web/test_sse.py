"""web/sse.py: the one Server-Sent-Events loop of every live page."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from starlette.requests import Request
from starlette.types import Message

from web.sse import Event, Step, Timing, event_loop

FAST = Timing(poll_seconds=0, stream_seconds=60, keepalive_polls=3, retry_ms=1500)


def request(disconnect_after: int | None = None) -> Request:
    """A request whose browser goes away after ``disconnect_after`` checks."""
    checks = 0

    async def receive() -> Message:
        nonlocal checks
        checks += 1
        if disconnect_after is not None and checks > disconnect_after:
            return {"type": "http.disconnect"}
        await asyncio.Event().wait()  # still connected: nothing arrives
        raise AssertionError("unreachable")

    return Request({"type": "http", "method": "GET", "headers": []}, receive)


def script(*polls: Sequence[Event] | None) -> Step:
    """A step answering ``polls`` in order, then nothing new."""
    answers = list(polls)

    def step() -> Sequence[Event] | None:
        return answers.pop(0) if answers else []

    return step


async def chunks(req: Request, step: Step, timing: Timing = FAST, limit: int = 50) -> list[str]:
    out = []
    async for chunk in event_loop(req, step, timing):
        out.append(chunk)
        if len(out) >= limit:
            break
    return out


async def test_events_keep_alives_and_the_retry_hint() -> None:
    step = script([Event("snapshot", {"n": 1})], [], [Event("change", {"n": "二"})])
    got = await chunks(request(disconnect_after=9), step)
    assert got[0] == "retry: 1500\n\n"
    assert got[1] == 'id: 1\nevent: snapshot\ndata: {"n":1}\n\n'
    # Non-ASCII stays readable; the id counts polls, not events.
    assert got[2] == 'id: 3\nevent: change\ndata: {"n":"二"}\n\n'
    # Three quiet polls, then a comment that keeps proxies from closing the stream.
    assert got[3:] == [": keep-alive\n\n", ": keep-alive\n\n"]


async def test_a_closed_tab_stops_the_poller() -> None:
    polls = 0

    def step() -> list[Event]:
        nonlocal polls
        polls += 1
        return [Event("counter", {"poll": polls})]

    got = await chunks(request(disconnect_after=2), step)
    assert polls == 3 and len(got) == 4


async def test_a_viewer_who_may_no_longer_watch_is_logged_out() -> None:
    got = await chunks(request(), script([Event("counter", {})], None))
    assert [c.split("\n")[1] for c in got[1:]] == ["event: counter", "event: logout"]
    assert json.loads(got[-1].split("data: ")[1]) == {}


async def test_a_stream_ends_at_its_time_limit() -> None:
    timing = Timing(poll_seconds=0, stream_seconds=0, keepalive_polls=3)
    got = await chunks(request(), script([Event("counter", {})]), timing)
    assert len(got) == 2
