"""Builds and refreshes session records from call events and staff input.

The jobs loop calls ``sync_due`` on every pass: each booking whose slot has
begun and whose record is not closed yet (or whose consultation changed
since) is derived again, so a record is complete even when the signaling
server stopped mid-call; the caller commits once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from app.calls.models import Consultation, Outcome
from app.calls.staff_queue import NO_SHOW_GRACE, QueueReader
from app.counter.models import QueueTicket
from app.tracker.derive import DerivedCall, derive_call, staff_id_of
from app.tracker.models import RecordChannel, RecordKind, SessionRecord, SessionSegment
from scheduler.models import Booking, BookingStatus, Kiosk, Service, Staff

log = logging.getLogger(__name__)

UTC_ZONE = ZoneInfo("UTC")  # QueueReader.events does not use the zone
# Residents may enter the room before the slot (the join link opens early).
EARLY = timedelta(hours=1)


class RecordBuilder:
    def __init__(self, session: Session, *, grace: timedelta = NO_SHOW_GRACE) -> None:
        self.session = session
        self.grace = grace

    def for_booking(self, booking_id: int) -> SessionRecord | None:
        return self.session.scalar(
            select(SessionRecord).where(SessionRecord.booking_id == booking_id)
        )

    def sync_booking(self, booking: Booking, now: datetime) -> SessionRecord:
        record = self.for_booking(booking.id)
        if record is None:
            service = booking.service or self.session.get(Service, booking.service_id)
            assert service is not None
            kiosk = self.session.get(Kiosk, booking.kiosk_id) if booking.kiosk_id else None
            record = SessionRecord(
                room=booking.room_id,
                booking_id=booking.id,
                kind=RecordKind.BOOKING.value,
                channel=(RecordChannel.KIOSK if kiosk else RecordChannel.HOME).value,
                kiosk_id=kiosk.id if kiosk else None,
                branch_id=kiosk.branch_id if kiosk else None,
                department_id=service.department_id,
                service_id=service.id,
                started_at=booking.start_at,
                notes="",
                no_show=False,
                reconstructed=False,
                closed=False,
                updated_at=now,
            )
            self.session.add(record)
        events = QueueReader(self.session, tz=UTC_ZONE).events([booking.room_id])[booking.room_id]
        derived = derive_call(events, slot_end=booking.end_at, now=now, grace=self.grace)
        consultation = self.session.scalar(
            select(Consultation).where(Consultation.booking_id == booking.id)
        )
        self._apply(record, derived, consultation, now)
        return record

    def sync_walk_in(
        self,
        room: str,
        *,
        service_id: int,
        kiosk_id: int | None,
        started_at: datetime,
        now: datetime,
        queued_at: datetime | None = None,
    ) -> SessionRecord:
        """The record of a call with no booking (a walk-in at a kiosk, or a hand-over room).

        Without a slot there is no no-show: the resident was there when the
        call was asked for; it closes like any other call.
        """
        record = self.session.scalar(select(SessionRecord).where(SessionRecord.room == room))
        if record is None:
            service = self.session.get(Service, service_id)
            assert service is not None
            kiosk = self.session.get(Kiosk, kiosk_id) if kiosk_id else None
            record = SessionRecord(
                room=room,
                booking_id=None,
                kind=RecordKind.WALK_IN.value,
                channel=(RecordChannel.KIOSK if kiosk else RecordChannel.HOME).value,
                kiosk_id=kiosk.id if kiosk else None,
                branch_id=kiosk.branch_id if kiosk else None,
                department_id=service.department_id,
                service_id=service.id,
                started_at=started_at,
                notes="",
                no_show=False,
                reconstructed=False,
                closed=False,
                updated_at=now,
            )
            self.session.add(record)
        events = QueueReader(self.session, tz=UTC_ZONE).events([room])[room]
        derived = derive_call(events, slot_end=None, now=now, grace=self.grace)
        consultation = self.session.scalar(select(Consultation).where(Consultation.room == room))
        self._apply(record, derived, consultation, now)
        if queued_at is not None:
            # A walk-in waits from taking the ticket, before its kiosk joins the room.
            if record.queued_at is None or queued_at < record.queued_at:
                record.queued_at = queued_at
            if record.answered_at is not None:
                record.wait_seconds = max(
                    0, int((record.answered_at - record.queued_at).total_seconds())
                )
        return record

    def sync_walk_ins(self, now: datetime, *, limit: int = 500) -> int:
        """Records of walk-in tickets staff answered (app/counter/tickets.py); returns how many."""
        stmt = (
            select(QueueTicket)
            .outerjoin(SessionRecord, SessionRecord.room == QueueTicket.room_id)
            .outerjoin(Consultation, Consultation.room == QueueTicket.room_id)
            .where(
                QueueTicket.booking_id.is_(None),
                QueueTicket.accepted_at.is_not(None),
                or_(
                    SessionRecord.id.is_(None),
                    SessionRecord.closed.is_(False),
                    # A wrap-up written after the record closed.
                    Consultation.updated_at > SessionRecord.updated_at,
                ),
            )
            .order_by(QueueTicket.id)
            .limit(limit)
        )
        tickets = list(self.session.scalars(stmt))
        for ticket in tickets:
            self.sync_walk_in(
                ticket.room_id,
                service_id=ticket.service_id,
                kiosk_id=ticket.kiosk_id,
                started_at=ticket.queued_at,
                now=now,
                queued_at=ticket.queued_at,
            )
        return len(tickets)

    def _apply(
        self,
        record: SessionRecord,
        derived: DerivedCall,
        consultation: Consultation | None,
        now: datetime,
    ) -> None:
        record.queued_at = derived.queued_at
        record.answered_at = derived.answered_at
        record.connected_at = derived.connected_at
        record.ended_at = derived.ended_at
        record.wait_seconds = derived.wait_seconds
        record.talk_seconds = derived.talk_seconds
        record.reconstructed = derived.reconstructed
        record.closed = derived.closed
        if consultation is not None:
            record.notes = consultation.notes
            record.outcome = consultation.outcome
        record.no_show = derived.no_show or record.outcome == Outcome.NO_SHOW
        if derived.no_show and record.outcome is None:
            record.outcome = Outcome.NO_SHOW.value
        claimed = {staff_id_of(s.participant) for s in derived.segments} - {None}
        known = set(self.session.scalars(select(Staff.id).where(Staff.id.in_(claimed))))
        wanted = [
            (
                s.participant,
                sid if (sid := staff_id_of(s.participant)) in known else None,
                s.joined_at,
                s.left_at,
            )
            for s in derived.segments
        ]
        have = [(s.participant, s.staff_id, s.joined_at, s.left_at) for s in record.segments]
        if wanted != have:
            record.segments.clear()
            self.session.flush()
            for seq, (pid, staff_id, joined, left) in enumerate(wanted):
                record.segments.append(
                    SessionSegment(
                        seq=seq, participant=pid, staff_id=staff_id, joined_at=joined, left_at=left
                    )
                )
        record.updated_at = now
        self.session.flush()
        if derived.closed:
            log.info(
                "record %s: closed (no-show=%s, reconstructed=%s)",
                record.room,
                record.no_show,
                record.reconstructed,
            )

    def sync_due(self, now: datetime, *, limit: int = 500) -> int:
        """Refresh records that can still change; returns how many were touched."""
        stmt = (
            select(Booking)
            .outerjoin(SessionRecord, SessionRecord.booking_id == Booking.id)
            .outerjoin(Consultation, Consultation.booking_id == Booking.id)
            .where(
                Booking.status == BookingStatus.CONFIRMED,
                Booking.start_at <= now + EARLY,
                or_(
                    SessionRecord.id.is_(None),
                    SessionRecord.closed.is_(False),
                    Consultation.updated_at > SessionRecord.updated_at,
                ),
            )
            .options(selectinload(Booking.service))
            .order_by(Booking.start_at)
            .limit(limit)
        )
        bookings = list(self.session.scalars(stmt))
        for booking in bookings:
            self.sync_booking(booking, now)
        return len(bookings)
