"""One Server-Sent-Events loop for every live page (the staff queue, the
counter console).

A stream polls a blocking ``step`` in a worker thread every ``poll_seconds``
(each step opens a short database session of its own: a stream must not hold
a connection for minutes), sends the events it returns, a keep-alive comment
after ``keepalive_polls`` quiet polls (so proxies do not drop an idle
connection), and stops when the browser went away or after
``stream_seconds``: EventSource reconnects by itself (after ``retry_ms``),
and a bounded stream keeps proxies and load balancers from holding dead
connections forever. A step returning ``None`` means the viewer may no
longer watch: the stream sends ``logout`` and ends.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import anyio
from fastapi import Request
from fastapi.responses import StreamingResponse

from app.core.db import is_busy

POLL_SECONDS = 2.0
STREAM_SECONDS = 600.0
KEEPALIVE_POLLS = 10
RETRY_MS = 3000
KEEPALIVE = ": keep-alive\n\n"


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    data: object


# One poll: the events to send now (none: nothing changed), or None to log out.
Step = Callable[[], Sequence[Event] | None]


def format_event(event: Event, seq: int) -> str:
    payload = json.dumps(event.data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {seq}\nevent: {event.name}\ndata: {payload}\n\n"


@dataclass(frozen=True, slots=True)
class Timing:
    poll_seconds: float = POLL_SECONDS
    stream_seconds: float = STREAM_SECONDS
    keepalive_polls: int = KEEPALIVE_POLLS
    retry_ms: int = RETRY_MS


# Read at each call, so a test can shorten every stream of the app at once.
DEFAULT_TIMING = Timing()


async def event_loop(
    request: Request, step: Step, timing: Timing | None = None
) -> AsyncIterator[str]:
    timing = timing or DEFAULT_TIMING
    yield f"retry: {timing.retry_ms}\n\n"
    seq = quiet = 0
    deadline = time.monotonic() + timing.stream_seconds
    while True:
        try:
            events = await anyio.to_thread.run_sync(step)
        except Exception as exc:
            if not is_busy(exc):
                raise
            # A busy database (a writer holding SQLite's lock) skips this poll;
            # the stream goes on.
            await anyio.sleep(timing.poll_seconds)
            continue
        seq += 1
        if events is None:
            yield format_event(Event("logout", {}), seq)
            return
        if events:
            quiet = 0
            for event in events:
                yield format_event(event, seq)
        else:
            quiet += 1
            if quiet >= timing.keepalive_polls:
                quiet = 0
                yield KEEPALIVE
        # A closed tab must not keep a poller running until the deadline.
        if time.monotonic() >= deadline or await request.is_disconnected():
            return
        await anyio.sleep(timing.poll_seconds)


def event_stream(request: Request, step: Step, timing: Timing | None = None) -> StreamingResponse:
    return StreamingResponse(
        event_loop(request, step, timing),
        media_type="text/event-stream",
        # No proxy buffering (nginx) and no caching: events must arrive at once.
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )
