"""Today's queue of a staff member: booked calls and the state of each.

The state of a call is derived, never stored: from the ``call_events`` rows
the signaling server writes (join, leave, call-start, call-end …) and from the
outcome staff record (``app.calls.consultations``). ``call_state`` is a pure
function of those rows and ``now``; ``QueueReader`` only loads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.calls.consultations import Consultations
from app.calls.models import CallEventRow, Consultation, Outcome
from scheduler.models import Booking, BookingStatus, Service, Staff

# A resident who has not joined this long after the end of the slot is a
# no-show: late arrivals within the slot are common (elderly residents, a
# phone that needed a restart), but staff must be able to move on.
NO_SHOW_GRACE = timedelta(minutes=10)

# Roles of the person the booking is for: at home, or at a branch kiosk.
VISITOR_ROLES = frozenset({"resident", "kiosk"})


class CallState(StrEnum):
    NOT_YET = "not-yet"
    WAITING = "waiting"
    IN_CALL = "in-call"
    DONE = "done"
    NO_SHOW = "no-show"


# Message ids of the states, shown in the console and announced on change.
STATE_LABELS: dict[CallState, str] = {
    CallState.NOT_YET: "Not yet",
    CallState.WAITING: "Waiting in the room",
    CallState.IN_CALL: "In call",
    CallState.DONE: "Done",
    CallState.NO_SHOW: "No-show",
}


@dataclass(frozen=True, slots=True)
class EventView:
    """The part of a ``call_events`` row the state depends on."""

    kind: str
    at: datetime
    participant: str | None = None
    role: str | None = None


def call_state(
    *,
    end: datetime,
    events: Sequence[EventView],
    outcome: str | None,
    now: datetime,
    grace: timedelta = NO_SHOW_GRACE,
) -> CallState:
    """The state of one booked call; ``events`` in the order they happened."""
    if outcome == Outcome.NO_SHOW:
        return CallState.NO_SHOW
    if outcome is not None:
        return CallState.DONE
    present: set[str] = set()
    visitors: set[str] = set()
    visitor_ever = started = False
    for event in events:
        pid = event.participant
        if event.kind == "call-end":
            return CallState.DONE
        if event.kind == "call-start":
            started = True
        elif pid is not None and event.kind in ("join", "resumed"):
            present.add(pid)
            if event.role in VISITOR_ROLES:
                visitors.add(pid)
                visitor_ever = True
        elif pid is not None and event.kind == "leave":
            present.discard(pid)
    if started:
        # Everyone gone without an explicit end (a crash, both hung up): over.
        return CallState.IN_CALL if present else CallState.DONE
    if present & visitors:
        return CallState.WAITING
    if not visitor_ever and now >= end + grace:
        return CallState.NO_SHOW
    return CallState.NOT_YET


@dataclass(frozen=True, slots=True)
class QueueEntry:
    booking: Booking
    state: CallState
    consultation: Consultation | None


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tz)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


class QueueReader:
    def __init__(self, session: Session, tz: ZoneInfo) -> None:
        self.session = session
        self.tz = tz

    def bookings(
        self, staff: Staff, first: date, last: date, *, team: bool = False
    ) -> list[Booking]:
        """Confirmed bookings from ``first`` to ``last`` (city dates), by start.

        ``team`` widens the list from the staff member's own bookings to every
        booking of their departments, so colleagues can cover for each other.
        """
        lo, _ = day_bounds(first, self.tz)
        _, hi = day_bounds(last, self.tz)
        stmt = (
            select(Booking)
            .where(
                Booking.status == BookingStatus.CONFIRMED,
                Booking.start_at >= lo,
                Booking.start_at < hi,
            )
            .options(
                selectinload(Booking.service).selectinload(Service.department),
                selectinload(Booking.staff),
                selectinload(Booking.kiosk),
            )
            .order_by(Booking.start_at, Booking.id)
        )
        if team:
            department_ids = [d.id for d in staff.departments]
            stmt = stmt.join(Service, Service.id == Booking.service_id).where(
                Service.department_id.in_(department_ids)
            )
        else:
            stmt = stmt.where(Booking.staff_id == staff.id)
        return list(self.session.scalars(stmt))

    def events(self, rooms: Iterable[str]) -> dict[str, list[EventView]]:
        rooms = list(rooms)
        out: dict[str, list[EventView]] = {room: [] for room in rooms}
        if not rooms:
            return out
        e = CallEventRow
        rows = self.session.execute(
            select(e.room, e.kind, e.at, e.participant, e.role)
            .where(e.room.in_(rooms))
            .order_by(e.at, e.id)
        )
        for room, kind, at, participant, role in rows:
            out[room].append(EventView(kind, at, participant, role))
        return out

    def queue(
        self, staff: Staff, day: date, now: datetime, *, team: bool = False
    ) -> list[QueueEntry]:
        bookings = self.bookings(staff, day, day, team=team)
        events = self.events(b.room_id for b in bookings)
        records = Consultations(self.session).for_bookings([b.id for b in bookings])
        entries = []
        for booking in bookings:
            record = records.get(booking.id)
            state = call_state(
                end=booking.end_at,
                events=events[booking.room_id],
                outcome=record.outcome if record else None,
                now=now,
            )
            entries.append(QueueEntry(booking, state, record))
        return entries
