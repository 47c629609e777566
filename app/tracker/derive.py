"""What happened in one call, derived from its ``call_events`` rows (pure).

``derive_call`` takes the room's events in order, the end of the booked slot
and ``now``, and returns the times, staff segments and whether the call is
over, was a no-show, or had to be closed by reconstruction because the
server stopped without writing the end (a restart mid-call leaves no
``leave`` or ``call-end`` rows behind).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.calls.staff_queue import NO_SHOW_GRACE, VISITOR_ROLES, EventView

# A call with no end event and nothing heard for this long is taken as cut off
# by a restart; its end is then the last event we have.
STALE_AFTER = timedelta(minutes=30)

STAFF_ROLE = "staff"


@dataclass(frozen=True, slots=True)
class Segment:
    """One staff member's part of a call: a hand-over gives two segments."""

    participant: str
    joined_at: datetime
    left_at: datetime | None


@dataclass(frozen=True, slots=True)
class DerivedCall:
    queued_at: datetime | None = None  # the resident (or kiosk) first entered the room
    answered_at: datetime | None = None  # staff first met a waiting resident
    connected_at: datetime | None = None  # both sides reported media connected
    ended_at: datetime | None = None
    closed: bool = False  # nothing more will change the times
    no_show: bool = False
    reconstructed: bool = False  # ended_at comes from the last event, not an end
    segments: tuple[Segment, ...] = field(default_factory=tuple)

    @property
    def wait_seconds(self) -> int | None:
        if self.queued_at is None or self.answered_at is None:
            return None
        return max(0, int((self.answered_at - self.queued_at).total_seconds()))

    @property
    def talk_seconds(self) -> int | None:
        if self.connected_at is None or self.ended_at is None:
            return None
        return max(0, int((self.ended_at - self.connected_at).total_seconds()))


def staff_id_of(participant: str) -> int | None:
    """Staff join tickets use ``staff:{id}`` as the participant id."""
    prefix, _, rest = participant.partition(":")
    return int(rest) if prefix == "staff" and rest.isdigit() else None


def _segments(events: Sequence[EventView], end: datetime | None) -> tuple[Segment, ...]:
    out: list[Segment] = []
    open_at: dict[str, int] = {}  # participant -> index of their open segment
    for event in events:
        pid = event.participant
        if pid is None or event.role != STAFF_ROLE:
            continue
        if event.kind in ("join", "resumed") and pid not in open_at:
            if out and out[-1].participant == pid:
                # The same person back after a dropped connection: one segment.
                out[-1] = Segment(pid, out[-1].joined_at, None)
                open_at[pid] = len(out) - 1
            else:
                open_at[pid] = len(out)
                out.append(Segment(pid, event.at, None))
        elif event.kind == "leave" and pid in open_at:
            i = open_at.pop(pid)
            out[i] = Segment(pid, out[i].joined_at, event.at)
    if end is not None:
        for i in open_at.values():
            out[i] = Segment(out[i].participant, out[i].joined_at, end)
    return tuple(out)


def derive_call(
    events: Sequence[EventView],
    *,
    slot_end: datetime | None,
    now: datetime,
    grace: timedelta = NO_SHOW_GRACE,
    stale_after: timedelta = STALE_AFTER,
) -> DerivedCall:
    """The record's times for one room; ``events`` in the order they happened."""
    present: set[str] = set()
    visitors_present: set[str] = set()
    staff_present: set[str] = set()
    queued = answered = connected = ended = None
    for event in events:
        pid = event.participant
        if event.kind == "call-end":
            ended = event.at
            break
        if event.kind == "call-start":
            connected = connected or event.at
            answered = answered or event.at
            continue
        if pid is None:
            continue
        if event.kind in ("join", "resumed"):
            present.add(pid)
            if event.role in VISITOR_ROLES:
                visitors_present.add(pid)
                queued = queued or event.at
            elif event.role == STAFF_ROLE:
                staff_present.add(pid)
            if answered is None and visitors_present and staff_present:
                answered = event.at
        elif event.kind == "leave":
            present.discard(pid)
            visitors_present.discard(pid)
            staff_present.discard(pid)
    last_at = events[-1].at if events else None
    if ended is not None:
        return DerivedCall(
            queued, answered, connected, ended, True, False, False, _segments(events, ended)
        )
    if queued is None:
        no_show = slot_end is not None and now >= slot_end + grace
        return DerivedCall(closed=no_show, no_show=no_show, segments=_segments(events, None))
    assert last_at is not None
    deadline = max(last_at + stale_after, (slot_end + grace) if slot_end else last_at)
    if now < deadline:
        return DerivedCall(
            queued, answered, connected, None, False, False, False, _segments(events, None)
        )
    # Over without a `call-end`: everyone left (their leaves are the end), or
    # the server stopped mid-call and the last event is all we know.
    return DerivedCall(
        queued, answered, connected, last_at, True, False, bool(present), _segments(events, last_at)
    )
