"""Database side of interpreters: load them into the pure core, find one free now.

``SchedulingService`` calls ``load_interpreters`` when a booking asks for an
interpreter; ``InterpreterService.free_now`` is the on-demand look-up for
walk-in calls (``docs/architecture.md``, "Interpreters").
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from scheduler.calendar import closed_dates
from scheduler.interpreters import free_interpreters
from scheduler.models import (
    Booking,
    BookingStatus,
    City,
    CityClosure,
    Interpreter,
    InterpreterHours,
    InterpreterLanguage,
)
from scheduler.types import ClosurePolicy, Hours, InterpreterSpec, TimeRange, WeeklyWindow

log = logging.getLogger(__name__)

__all__ = ["InterpreterService", "OnDemandInterpreter", "load_interpreters"]


def _weekly(rows: Sequence[InterpreterHours]) -> tuple[WeeklyWindow, ...]:
    return tuple(WeeklyWindow(r.weekday, r.start, r.end) for r in rows)


def languages(session: Session) -> list[InterpreterLanguage]:
    return list(
        session.scalars(
            select(InterpreterLanguage).order_by(
                InterpreterLanguage.sort_order, InterpreterLanguage.code
            )
        )
    )


def load_interpreters(
    session: Session,
    language: str,
    lo: datetime,
    hi: datetime,
    *,
    ignore_booking_id: int | None = None,
) -> tuple[InterpreterSpec, ...]:
    """Active interpreters of ``language`` with their hours and confirmed bookings in [lo, hi).

    Interpreters have weekly hours only (no date overrides yet); the city's
    closed days apply to them as to everyone.
    """
    rows = [
        i
        for i in session.scalars(
            select(Interpreter)
            .where(Interpreter.active.is_(True))
            .options(selectinload(Interpreter.hours))
            .order_by(Interpreter.id)
        )
        if language in i.language_codes
    ]
    if not rows:
        return ()
    ids = [i.id for i in rows]
    stmt = select(Booking.interpreter_id, Booking.start_at, Booking.end_at).where(
        Booking.interpreter_id.in_(ids),
        Booking.status == BookingStatus.CONFIRMED,
        Booking.start_at < hi,
        Booking.end_at > lo,
    )
    if ignore_booking_id is not None:
        stmt = stmt.where(Booking.id != ignore_booking_id)
    busy: dict[int, list[TimeRange]] = {}
    for interpreter_id, start, end in session.execute(stmt):
        if interpreter_id is not None:
            busy.setdefault(interpreter_id, []).append(TimeRange(start, end))
    return tuple(
        InterpreterSpec(
            id=i.id,
            languages=frozenset(i.language_codes),
            hours=Hours(_weekly(i.hours)),
            busy=tuple(busy.get(i.id, [])),
        )
        for i in rows
    )


@dataclass(frozen=True)
class OnDemandInterpreter:
    """An interpreter free now, for a walk-in call: who, and until when they are needed."""

    interpreter_id: int
    name: str
    email: str | None
    language: str
    window: TimeRange


class InterpreterService:
    """On-demand interpreters for walk-in calls; never commits."""

    def __init__(self, session: Session, *, tz: ZoneInfo) -> None:
        self.session = session
        self.tz = tz

    def _closures(self, first: date, last: date) -> frozenset[date]:
        city = self.session.get(City, 1)
        extra = frozenset(self.session.scalars(select(CityClosure.day)))
        policy = ClosurePolicy(
            public_holidays=city.close_public_holidays if city else True,
            year_end=city.close_year_end if city else True,
            extra_closed=extra,
        )
        return closed_dates(policy, first, last)

    def free_now(
        self, language: str, now: datetime, *, minutes: int = 30
    ) -> list[OnDemandInterpreter]:
        """Interpreters of ``language`` working and without a booking for the next
        ``minutes`` (the expected length of the call), in a stable order.

        Part of the walk-in routing asks this when a resident at a kiosk needs
        an interpreter; the caller invites the first one it reaches into the
        call with a join token of role ``interpreter``. Nothing is reserved
        here: a walk-in call is not a booking.
        """
        if minutes <= 0:
            raise ValueError("minutes must be positive")
        window = TimeRange(now, now + timedelta(minutes=minutes))
        specs = load_interpreters(self.session, language, window.start, window.end)
        first = now.astimezone(self.tz).date()
        last = window.end.astimezone(self.tz).date()
        ids = free_interpreters(
            specs, language, window, self.tz, closed=self._closures(first, last)
        )
        by_id = {
            i.id: i
            for i in self.session.scalars(select(Interpreter).where(Interpreter.id.in_(ids)))
        }
        log.info("on-demand interpreters for %s: %s free", language, len(ids))
        return [
            OnDemandInterpreter(i, by_id[i].name, by_id[i].email, language, window) for i in ids
        ]
