"""The wrap-up of a call, booked or walk-in: its session record, who may write
it, and the outcome and notes staff record when their part of the call ends.

There is one wrap-up path for both kinds: the consultation record of the
call's room (``app.calls.consultations``) holds the outcome and notes, and the
session record (``record_builder``) copies them. Every staff member who took
part (each hand-over segment) ends on the same call's wrap-up; whoever records
last sets the call's outcome. Nothing here commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from app.auth.scope import StaffScope
from app.calls.consultations import CallRef, Consultations
from app.calls.models import CallEventRow, Consultation
from app.counter.models import QueueTicket
from app.tracker.models import ApplicationSession, SessionRecord, SessionSegment
from app.tracker.record_builder import RecordBuilder
from scheduler.models import Booking, Staff

RECENT_LIMIT = 50


def record_for_room(session: Session, room: str, now: datetime) -> SessionRecord | None:
    """The session record of the call in ``room``, brought up to date (made if new);
    None when no booking or walk-in ticket has this room."""
    builder = RecordBuilder(session)
    booking = session.scalar(select(Booking).where(Booking.room_id == room))
    if booking is not None:
        return builder.sync_booking(booking, now)
    ticket = session.scalar(select(QueueTicket).where(QueueTicket.room_id == room))
    if ticket is not None:
        return builder.sync_walk_in(
            ticket.room_id,
            service_id=ticket.service_id,
            kiosk_id=ticket.kiosk_id,
            started_at=ticket.queued_at,
            now=now,
            queued_at=ticket.queued_at,
        )
    # A call with neither (a record made for its room alone): as it was made.
    record = session.scalar(select(SessionRecord).where(SessionRecord.room == room))
    if record is None:
        return None
    return builder.sync_walk_in(
        room,
        service_id=record.service_id,
        kiosk_id=record.kiosk_id,
        started_at=record.started_at,
        now=now,
        queued_at=record.queued_at,
    )


def took_part(session: Session, staff_id: int, room: str) -> bool:
    """Whether the staff member was in the call (joined its room as staff), or
    holds its walk-in ticket."""
    joined = session.scalar(
        select(CallEventRow.id)
        .where(
            CallEventRow.room == room,
            CallEventRow.kind == "join",
            CallEventRow.participant == f"staff:{staff_id}",
        )
        .limit(1)
    )
    if joined is not None:
        return True
    holder = session.scalar(select(QueueTicket.staff_id).where(QueueTicket.room_id == room))
    return holder == staff_id


def may_wrap_up(session: Session, staff: Staff, record: SessionRecord) -> bool:
    """Staff who took part, whoever may serve the booking, and administrators."""
    scope = StaffScope.of(staff)
    if scope.is_admin or took_part(session, staff.id, record.room):
        return True
    if record.booking_id is not None:
        booking = session.get(Booking, record.booking_id)
        return booking is not None and scope.covers_booking(booking)
    return False


def may_read(session: Session, staff: Staff, record: SessionRecord) -> bool:
    """Anyone who may wrap it up, and the staff of the call's department."""
    return StaffScope.of(staff).covers_department(record.department_id) or may_wrap_up(
        session, staff, record
    )


def consultation_of(session: Session, record: SessionRecord) -> Consultation | None:
    return Consultations(session).for_room(record.room)


def save_wrapup(
    session: Session,
    record: SessionRecord,
    staff: Staff,
    now: datetime,
    *,
    outcome: str,
    notes: str | None,
    referred_department_id: int | None = None,
) -> SessionRecord:
    """Record the outcome (and the notes, when given) of the call; the session
    record follows at once. Raises ``ConsultationError`` on bad input."""
    call = CallRef(record.room, record.booking_id)
    records = Consultations(session)
    if notes is not None:
        records.save_notes(call, staff, notes, now)
    records.set_outcome(call, staff, outcome, now, referred_department_id=referred_department_id)
    synced = record_for_room(session, record.room, now)
    assert synced is not None
    return synced


def application_of(session: Session, record: SessionRecord) -> int | None:
    """The application the record is attached to, if any."""
    return session.scalar(
        select(ApplicationSession.application_id).where(ApplicationSession.record_id == record.id)
    )


def recent_records(
    session: Session, staff: Staff, *, mine: bool = False, limit: int = RECENT_LIMIT
) -> list[SessionRecord]:
    """Recent calls, newest first: those the staff member took part in, and
    (unless ``mine``) those of the departments they may see."""
    took = exists().where(
        SessionSegment.record_id == SessionRecord.id, SessionSegment.staff_id == staff.id
    )
    held = exists().where(
        QueueTicket.room_id == SessionRecord.room, QueueTicket.staff_id == staff.id
    )
    clause = or_(took, held)
    if not mine:
        clause = or_(clause, StaffScope.of(staff).department_clause(SessionRecord.department_id))
    return list(
        session.scalars(
            select(SessionRecord)
            .where(clause)
            .order_by(SessionRecord.started_at.desc(), SessionRecord.id.desc())
            .limit(limit)
        )
    )
