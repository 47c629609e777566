"""Builds and refreshes session records from call events and staff input.

The jobs loop calls ``sync_due`` on every pass: each booking whose slot has
begun and whose record is not closed yet (or whose consultation changed
since) is derived again, so a record is complete even when the signaling
server stopped mid-call; the caller commits once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, selectinload

from app.calls.models import Consultation, Outcome
from app.calls.staff_queue import NO_SHOW_GRACE, EventView, QueueReader
from app.core.db import chunks
from app.counter.models import QueueTicket
from app.tracker.derive import DerivedCall, derive_call, staff_id_of
from app.tracker.models import RecordChannel, RecordKind, SessionRecord, SessionSegment
from scheduler.models import Booking, BookingStatus, Kiosk, Service, Staff

log = logging.getLogger(__name__)

UTC_ZONE = ZoneInfo("UTC")  # QueueReader.events does not use the zone
# Residents may enter the room before the slot (the join link opens early).
EARLY = timedelta(hours=1)
# participant, staff id, joined, left
Segment = tuple[str, int | None, datetime, datetime | None]


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
        self._apply(record, derived, consultation, now, queued_at)
        return record

    @staticmethod
    def _answered_walk_ins(limit: int) -> Select[QueueTicket]:
        return (
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

    def sync_walk_ins(self, now: datetime, *, limit: int = 500) -> int:
        """Records of walk-in tickets staff answered (app/counter/tickets.py); returns how many."""
        tickets = list(self.session.scalars(self._answered_walk_ins(limit)))
        self.sync_tickets(tickets, now)
        return len(tickets)

    def sync_tickets(self, tickets: Iterable[QueueTicket], now: datetime) -> None:
        for ticket in tickets:
            self.sync_walk_in(
                ticket.room_id,
                service_id=ticket.service_id,
                kiosk_id=ticket.kiosk_id,
                started_at=ticket.queued_at,
                now=now,
                queued_at=ticket.queued_at,
            )

    def _plan(
        self,
        record: SessionRecord,
        derived: DerivedCall,
        consultation: Consultation | None,
        known_staff: set[int],
        queued_at: datetime | None = None,
    ) -> tuple[dict[str, object], list[Segment]]:
        """What the record should hold, computed without touching it."""
        outcome = consultation.outcome if consultation is not None else record.outcome
        if derived.no_show and outcome is None:
            outcome = Outcome.NO_SHOW.value
        fields: dict[str, object] = {
            "queued_at": derived.queued_at,
            "answered_at": derived.answered_at,
            "connected_at": derived.connected_at,
            "ended_at": derived.ended_at,
            "wait_seconds": derived.wait_seconds,
            "talk_seconds": derived.talk_seconds,
            "reconstructed": derived.reconstructed,
            "closed": derived.closed,
            "notes": consultation.notes if consultation is not None else record.notes,
            "outcome": outcome,
            "no_show": derived.no_show or outcome == Outcome.NO_SHOW,
        }
        if queued_at is not None:
            # A walk-in waits from taking the ticket, before its kiosk joins the room.
            if derived.queued_at is None or queued_at < derived.queued_at:
                fields["queued_at"] = queued_at
            if derived.answered_at is not None:
                start = fields["queued_at"]
                assert isinstance(start, datetime)
                fields["wait_seconds"] = max(0, int((derived.answered_at - start).total_seconds()))
        segments = [
            (
                s.participant,
                sid if (sid := staff_id_of(s.participant)) in known_staff else None,
                s.joined_at,
                s.left_at,
            )
            for s in derived.segments
        ]
        return fields, segments

    @staticmethod
    def _differs(record: SessionRecord, fields: dict[str, object], segments: list[Segment]) -> bool:
        if any(getattr(record, name) != value for name, value in fields.items()):
            return True
        have = [(s.participant, s.staff_id, s.joined_at, s.left_at) for s in record.segments]
        return have != segments

    def _known_staff(self, derived: Iterable[DerivedCall]) -> set[int]:
        claimed = {staff_id_of(s.participant) for d in derived for s in d.segments} - {None}
        if not claimed:
            return set()
        return set(self.session.scalars(select(Staff.id).where(Staff.id.in_(claimed))))

    def _apply(
        self,
        record: SessionRecord,
        derived: DerivedCall,
        consultation: Consultation | None,
        now: datetime,
        queued_at: datetime | None = None,
    ) -> None:
        fields, wanted = self._plan(
            record, derived, consultation, self._known_staff([derived]), queued_at
        )
        for name, value in fields.items():
            setattr(record, name, value)
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

    @staticmethod
    def _due_bookings(now: datetime, limit: int) -> Select[Booking]:
        return (
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

    def sync_due(self, now: datetime, *, limit: int = 500) -> int:
        """Refresh records that can still change; returns how many were touched."""
        bookings = list(self.session.scalars(self._due_bookings(now, limit)))
        for booking in bookings:
            self.sync_booking(booking, now)
        return len(bookings)

    def stale(self, now: datetime, *, limit: int = 500) -> Stale:
        """Which records a sync would change, found by reading only.

        Open records are derived again on every pass, yet most come out as they
        were. Deciding that under a write transaction held SQLite's one write
        lock for seconds with thousands of bookings open; here it is a few
        bulk reads, and only the records that really change are written.
        """
        bookings = list(self.session.scalars(self._due_bookings(now, limit)))
        tickets = list(self.session.scalars(self._answered_walk_ins(limit)))
        ids = [b.id for b in bookings]
        rooms = [b.room_id for b in bookings] + [t.room_id for t in tickets]
        by_booking: dict[int, SessionRecord] = {}
        by_room: dict[str, SessionRecord] = {}
        for chunk in chunks(rooms, 500):
            for rec in self.session.scalars(
                select(SessionRecord)
                .where(SessionRecord.room.in_(chunk))
                .options(selectinload(SessionRecord.segments))
            ):
                by_room[rec.room] = rec
                if rec.booking_id is not None:
                    by_booking[rec.booking_id] = rec
        consultations: dict[int, Consultation] = {}
        for id_chunk in chunks(ids, 500):
            for c in self.session.scalars(
                select(Consultation).where(Consultation.booking_id.in_(id_chunk))
            ):
                if c.booking_id is not None:
                    consultations[c.booking_id] = c
        # A walk-in's wrap-up is keyed by its room.
        wrapups: dict[str, Consultation] = {}
        for room_chunk in chunks([t.room_id for t in tickets], 500):
            for c in self.session.scalars(
                select(Consultation).where(Consultation.room.in_(room_chunk))
            ):
                wrapups[c.room] = c
        events: dict[str, list[EventView]] = {}
        reader = QueueReader(self.session, tz=UTC_ZONE)
        for chunk in chunks(rooms, 500):
            events.update(reader.events(chunk))
        derived_b = {
            b.id: derive_call(events[b.room_id], slot_end=b.end_at, now=now, grace=self.grace)
            for b in bookings
        }
        derived_t = {
            t.id: derive_call(events[t.room_id], slot_end=None, now=now, grace=self.grace)
            for t in tickets
        }
        known = self._known_staff([*derived_b.values(), *derived_t.values()])
        stale = Stale()
        for b in bookings:
            record = by_booking.get(b.id)
            if record is None or self._differs(
                record, *self._plan(record, derived_b[b.id], consultations.get(b.id), known)
            ):
                stale.bookings.append(b.id)
        for t in tickets:
            record = by_room.get(t.room_id)
            if record is None or self._differs(
                record,
                *self._plan(record, derived_t[t.id], wrapups.get(t.room_id), known, t.queued_at),
            ):
                stale.tickets.append(t.id)
        return stale


@dataclass
class Stale:
    bookings: list[int] = field(default_factory=list)
    tickets: list[int] = field(default_factory=list)
