"""Call events for the record, and the port they are written through.

The session record (who, when, wait time, duration) is built from these rows.
``EventSink.record`` is synchronous and must not block: it queues the event
(a database sink writes batches in a worker thread), which keeps the order of
frames the server sends identical to the order the core decided them.
``flush`` waits until everything queued is durable; the server awaits it after
a ``call-end`` and before telling anyone ``ended``, so an acknowledged end is
never lost, and again at shutdown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from signaling.messages import Role


class EventKind(StrEnum):
    JOIN = "join"
    LEAVE = "leave"  # detail: {"reason": left|timeout|replaced|ended}
    RECONNECTING = "reconnecting"
    RESUMED = "resumed"
    CALL_START = "call-start"  # both visitor and staff reported `connected`
    CALL_END = "call-end"  # staff sent `end`; the room is closed for good
    # Staff handed the call over; detail: {"mode": warm|cold, "target"?, "department"?}.
    # With the staff joins around it, it splits the record into segments.
    TRANSFER = "transfer"
    # Documents at the counter; detail: {"purpose"} / {"purpose", "granted"} / {"name"}.
    CONSENT_REQUEST = "consent-request"
    CONSENT = "consent"  # the visitor's on-screen answer; the photo upload checks it
    DOCUMENT = "document"  # staff pushed a document to the others' screens


@dataclass(frozen=True, slots=True)
class CallEvent:
    room: str
    kind: EventKind
    at: datetime  # aware, UTC
    node: str
    participant: str | None = None
    role: Role | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.at.utcoffset() is None:
            raise ValueError("CallEvent.at must be timezone-aware")


class EventSink(Protocol):
    def record(self, event: CallEvent) -> None:
        """Queue ``event`` for writing; never blocks."""

    async def flush(self) -> None:
        """Return when every event recorded so far is durable."""

    async def ended_rooms(self, since: datetime | None = None) -> set[str]:
        """Rooms ended (``call-end``) at or after ``since``, to refuse rejoining
        after a restart (only recent ones: see ``CoreConfig.ended_memory``)."""


class MemoryEventSink:
    """Keeps events in a list: for tests and for a demo run without a database."""

    def __init__(self) -> None:
        self.events: list[CallEvent] = []

    def record(self, event: CallEvent) -> None:
        self.events.append(event)

    async def flush(self) -> None:
        return None

    async def ended_rooms(self, since: datetime | None = None) -> set[str]:
        return {
            e.room
            for e in self.events
            if e.kind is EventKind.CALL_END and (since is None or e.at >= since)
        }

    def kinds(self, room: str) -> list[EventKind]:
        return [e.kind for e in self.events if e.room == room]
