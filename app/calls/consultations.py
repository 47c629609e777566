"""The consultation record of a call: the staff member's notes and the outcome.

One row per call (its room), booked or walk-in, created the first time staff
write notes or pick an outcome; a booked call's row also names its booking.
It is kept deliberately small: the session record (``app.tracker``: who,
when, wait time, duration) is derived from ``call_events`` and copies the
notes and outcome from here, so nothing that can be computed from those rows
is stored twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.calls.models import Consultation, Outcome
from scheduler.models import Booking, Department, Staff

log = logging.getLogger(__name__)

NOTES_MAX = 20_000


class ConsultationError(ValueError):
    """Input the record cannot take; ``field`` names the form field."""

    code: ClassVar[str] = "invalid-consultation"

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class CallRef:
    """Which call a record belongs to: its room, and its booking if it has one."""

    room: str
    booking_id: int | None = None

    @classmethod
    def of(cls, call: Booking | CallRef) -> CallRef:
        if isinstance(call, CallRef):
            return call
        return cls(call.room_id, call.id)


class Consultations:
    """Reads and writes consultation records; the caller commits once."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def for_booking(self, booking_id: int) -> Consultation | None:
        return self.session.scalar(
            select(Consultation).where(Consultation.booking_id == booking_id)
        )

    def for_bookings(self, booking_ids: list[int]) -> dict[int, Consultation]:
        if not booking_ids:
            return {}
        rows = self.session.scalars(
            select(Consultation).where(Consultation.booking_id.in_(booking_ids))
        )
        return {c.booking_id: c for c in rows if c.booking_id is not None}

    def for_room(self, room: str) -> Consultation | None:
        return self.session.scalar(select(Consultation).where(Consultation.room == room))

    def _record(self, call: Booking | CallRef, staff: Staff, now: datetime) -> Consultation:
        ref = CallRef.of(call)
        record = self.for_room(ref.room)
        if record is None:
            record = Consultation(
                room=ref.room, booking_id=ref.booking_id, staff_id=staff.id, notes=""
            )
            self.session.add(record)
        record.staff_id = staff.id
        record.updated_at = now
        return record

    def save_notes(
        self, call: Booking | CallRef, staff: Staff, notes: str, now: datetime
    ) -> Consultation:
        if len(notes) > NOTES_MAX:
            raise ConsultationError("The notes are too long.", field="notes")
        record = self._record(call, staff, now)
        record.notes = notes
        self.session.flush()
        log.info("room %s: notes saved by staff %s", record.room, staff.id)
        return record

    def set_outcome(
        self,
        call: Booking | CallRef,
        staff: Staff,
        outcome: str,
        now: datetime,
        *,
        referred_department_id: int | None = None,
    ) -> Consultation:
        try:
            value = Outcome(outcome)
        except ValueError:
            raise ConsultationError("Choose an outcome.", field="outcome") from None
        if value is Outcome.REFERRED:
            if referred_department_id is None or (
                self.session.get(Department, referred_department_id) is None
            ):
                raise ConsultationError(
                    "Choose the department the resident was referred to.",
                    field="referred_department_id",
                )
        else:
            referred_department_id = None
        record = self._record(call, staff, now)
        record.outcome = value.value
        record.referred_department_id = referred_department_id
        self.session.flush()
        log.info("room %s: outcome %s recorded by staff %s", record.room, value, staff.id)
        return record
