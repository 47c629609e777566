"""Interpreters called on demand into a call happening now (walk-ins, booked calls).

``InterpreterCalls.call`` picks the first interpreter of the language who is
free now (``scheduler.interpreter_service.InterpreterService.free_now``: at
work, no booking in the next ``minutes``) and not already in another
on-demand call, reserves them with an ``interpreter_calls`` row, and writes a
mail with a join link of role ``interpreter`` to the outbox in the same
transaction. Two calls racing for the last free interpreter (two app
processes, too) meet at the partial unique index on the active row: the loser
gets an ``IntegrityError`` inside its savepoint and tries the next one.

A reservation ends (``released_at``) when the staff member cancels it, the
walk-in ticket is finished or left, or the room's call ended (``call-end``
event): ``sweep`` runs before every pick and listing, so a room ended on any
node frees its interpreter at the next look. Never commits.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.booking.notify import Notifier
from app.calls.models import CallEventRow
from app.core.context import AppContext
from app.counter.models import InterpreterCall, QueueTicket, TicketStatus
from scheduler.interpreter_service import InterpreterService, OnDemandInterpreter, languages
from scheduler.models import (
    Booking,
    BookingStatus,
    Interpreter,
    InterpreterLanguage,
    Service,
    Staff,
)

log = logging.getLogger(__name__)

# A walk-in room's interpreter link lasts as long as the room's other tokens.
WALK_IN_LINK_TTL = timedelta(hours=2)
# A reservation nobody released (a room that never sent ``end``) stops
# blocking its interpreter after this long.
STALE_AFTER = timedelta(hours=12)


class InterpreterCallError(Exception):
    code = "interpreter-call-error"


class UnknownLanguage(InterpreterCallError):
    code = "unknown-interpreter-language"


class NoInterpreterFree(InterpreterCallError):
    """Nobody of ``language`` is free now; ``free_languages`` lists the codes that have someone."""

    code = "no-interpreter-free"

    def __init__(self, language: str, free_languages: list[InterpreterLanguage]) -> None:
        super().__init__(language)
        self.language = language
        self.free_languages = free_languages


class RoomHasInterpreter(InterpreterCallError):
    """The room already has an on-demand interpreter (one interpreter seat per room)."""

    code = "interpreter-already-called"


class InterpreterCallGone(InterpreterCallError):
    code = "interpreter-call-gone"


@dataclass(frozen=True)
class Called:
    call: InterpreterCall
    interpreter: Interpreter
    url: str


class InterpreterCalls:
    def __init__(
        self, session: Session, ctx: AppContext, *, minutes: int = 30, read_only: bool = False
    ) -> None:
        self.session = session
        self.ctx = ctx
        self.minutes = minutes
        # Pages render from a read session: they skip the sweep's releases.
        self.read_only = read_only

    # -- reading -------------------------------------------------------------------------------

    def language(self, code: str) -> InterpreterLanguage | None:
        row = self.session.get(InterpreterLanguage, code)
        return row if row is not None and row.active else None

    def active_languages(self) -> list[InterpreterLanguage]:
        return [row for row in languages(self.session) if row.active]

    def _busy_ids(self) -> set[int]:
        return set(
            self.session.scalars(
                select(InterpreterCall.interpreter_id).where(InterpreterCall.released_at.is_(None))
            )
        )

    def available(self, language: str, now: datetime) -> list[OnDemandInterpreter]:
        """Interpreters of ``language`` free now and not in another on-demand call."""
        if not self.read_only:
            self.sweep(now)
        busy = self._busy_ids()
        found = InterpreterService(self.session, tz=self.ctx.tz).free_now(
            language, now, minutes=self.minutes
        )
        return [f for f in found if f.interpreter_id not in busy]

    def free_languages(self, now: datetime) -> list[InterpreterLanguage]:
        return [row for row in self.active_languages() if self.available(row.code, now)]

    def for_room(self, room_id: str) -> InterpreterCall | None:
        return self.session.scalar(
            select(InterpreterCall).where(
                InterpreterCall.room_id == room_id, InterpreterCall.released_at.is_(None)
            )
        )

    def interpreter(self, call: InterpreterCall) -> Interpreter:
        row = self.session.get(Interpreter, call.interpreter_id)
        assert row is not None
        return row

    # -- releasing -------------------------------------------------------------------------------

    def release(self, call: InterpreterCall, now: datetime, reason: str) -> None:
        if call.released_at is not None:
            return
        call.released_at = now
        call.release_reason = reason
        self.session.flush()
        log.info("room %s: interpreter %s released (%s)", call.room_id, call.interpreter_id, reason)

    def release_room(self, room_id: str, now: datetime, reason: str) -> None:
        call = self.for_room(room_id)
        if call is not None:
            self.release(call, now, reason)

    def sweep(self, now: datetime) -> None:
        """Release reservations whose call is over (on whichever node it ended)."""
        active = list(
            self.session.scalars(
                select(InterpreterCall).where(InterpreterCall.released_at.is_(None))
            )
        )
        if not active:
            return
        ended = {
            (room, at)
            for room, at in self.session.execute(
                select(CallEventRow.room, CallEventRow.at).where(
                    CallEventRow.room.in_([c.room_id for c in active]),
                    CallEventRow.kind == "call-end",
                )
            )
        }
        for call in active:
            if any(room == call.room_id and at >= call.called_at for room, at in ended):
                self.release(call, now, "call-end")
            elif call.ticket_id is not None and self._ticket_over(call.ticket_id):
                self.release(call, now, "ticket-over")
            elif now - call.called_at >= STALE_AFTER:
                self.release(call, now, "stale")

    def _ticket_over(self, ticket_id: int) -> bool:
        ticket = self.session.get(QueueTicket, ticket_id)
        return ticket is None or ticket.status in (TicketStatus.DONE, TicketStatus.LEFT)

    def cancel(self, call: InterpreterCall, now: datetime) -> None:
        """The staff member withdrew the request: release and tell the interpreter."""
        if call.released_at is not None:
            raise InterpreterCallGone(str(call.id))
        self.release(call, now, "cancelled")
        service = self._service(call)
        interpreter = self.interpreter(call)
        if service is not None:
            Notifier(self.session, self.ctx).interpreter_on_demand(
                interpreter,
                language=self._language_name(call.language, interpreter.locale),
                service=service,
                join_url=None,
                called_id=call.id,
            )

    # -- calling ----------------------------------------------------------------------------------

    def call_for_ticket(
        self, ticket: QueueTicket, language: str, now: datetime, staff: Staff | None
    ) -> Called:
        return self._call(ticket.room_id, language, now, staff, ticket=ticket)

    def call_for_booking(
        self, booking: Booking, language: str, now: datetime, staff: Staff | None
    ) -> Called:
        if booking.status != BookingStatus.CONFIRMED:
            raise InterpreterCallGone(booking.code)
        return self._call(booking.room_id, language, now, staff, booking=booking)

    def _call(
        self,
        room_id: str,
        language: str,
        now: datetime,
        staff: Staff | None,
        *,
        ticket: QueueTicket | None = None,
        booking: Booking | None = None,
    ) -> Called:
        if self.language(language) is None:
            raise UnknownLanguage(language)
        candidates = self.available(language, now)  # sweeps first: an ended call frees its room
        if self.for_room(room_id) is not None:
            raise RoomHasInterpreter(room_id)
        for candidate in candidates:
            pid = f"interpreter:{candidate.interpreter_id}:{secrets.token_urlsafe(4)}"
            row = InterpreterCall(
                interpreter_id=candidate.interpreter_id,
                language=language,
                room_id=room_id,
                ticket_id=ticket.id if ticket is not None else None,
                booking_id=booking.id if booking is not None else None,
                called_by=staff.id if staff is not None else None,
                participant=pid,
                called_at=now,
            )
            try:
                # A savepoint, so a lost race leaves the outer transaction usable.
                with self.session.begin_nested():
                    self.session.add(row)
            except IntegrityError:
                log.info(
                    "room %s: interpreter %s was taken concurrently; trying the next",
                    room_id,
                    candidate.interpreter_id,
                )
                if self.for_room(room_id) is not None:
                    raise RoomHasInterpreter(room_id) from None
                continue
            interpreter = self.interpreter(row)
            url = self._join_url(row, interpreter, now, booking)
            service = self._service(row)
            if service is not None:
                Notifier(self.session, self.ctx).interpreter_on_demand(
                    interpreter,
                    language=self._language_name(language, interpreter.locale),
                    service=service,
                    join_url=url,
                    called_id=row.id,
                )
            log.info(
                "room %s: interpreter %s called for %s by staff %s",
                room_id,
                interpreter.id,
                language,
                staff.id if staff else None,
            )
            return Called(row, interpreter, url)
        log.info("room %s: no interpreter of %s is free", room_id, language)
        raise NoInterpreterFree(language, self.free_languages(now))

    def _join_url(
        self,
        call: InterpreterCall,
        interpreter: Interpreter,
        now: datetime,
        booking: Booking | None,
    ) -> str:
        if booking is not None:
            token = self.ctx.links.join_token(
                booking,
                role="interpreter",
                pid=call.participant,
                name=interpreter.name,
                language=call.language,
            )
        else:
            token = self.ctx.links.room_join_token(
                call.room_id,
                role="interpreter",
                pid=call.participant,
                name=interpreter.name,
                expires=now + WALK_IN_LINK_TTL,
                language=call.language,
            )
        return f"{self.ctx.links.base_url.rstrip('/')}/join/{token}"

    def _service(self, call: InterpreterCall) -> Service | None:
        if call.ticket_id is not None:
            ticket = self.session.get(QueueTicket, call.ticket_id)
            return self.session.get(Service, ticket.service_id) if ticket else None
        if call.booking_id is not None:
            booking = self.session.get(Booking, call.booking_id)
            return booking.service if booking else None
        return None

    def _language_name(self, code: str, locale: str = "ja") -> str:
        row = self.session.get(InterpreterLanguage, code)
        if row is None:
            return code
        return row.name_en if locale == "en" else row.name_ja
