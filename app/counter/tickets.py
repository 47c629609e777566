"""Walk-in tickets (受付番号): taking one at a kiosk, a booked kiosk visit
joining the queue, leaving, a staff member answering its ring and finishing
the call, and what the kiosk and the supervisor see of the queue.

Every change runs a routing round (``app.counter.rounds``); nothing here commits.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.counter.errors import (
    OutsideStaffedHours,
    ServiceNotAtKiosk,
    TicketGone,
    UnknownInterpreterLanguage,
)
from app.counter.locking import routing_lock
from app.counter.models import QueueTicket, RingKind, RingOffer, TicketStatus
from app.counter.outlook import Outlooks
from app.counter.presence import PresenceBook
from app.counter.rings import Rings
from app.counter.rounds import Rounds, release_room, waiting_tickets
from app.counter.settings import CounterSettings
from app.kiosk.service import KioskService
from scheduler.models import Booking, InterpreterLanguage, Kiosk, Service, Staff
from scheduler.routing import Call, Presence, Priority, waiting_order
from scheduler.types import Channel

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TicketView:
    ticket: QueueTicket
    position: int | None  # 1 = next; None when not waiting
    # None when nobody qualified is available or in a call: no wait is promised.
    estimate: timedelta | None
    escalated: bool
    # Then, when the next qualified staff member is expected (None: not known).
    expected_at: datetime | None = None

    @property
    def staffed(self) -> bool:
        """Someone qualified is available or in a call: the estimate holds."""
        return self.estimate is not None


class Tickets:
    def __init__(self, session: Session, tz: ZoneInfo, settings: CounterSettings) -> None:
        self.session = session
        self.tz = tz
        self.settings = settings
        self.rounds = Rounds(session, tz, settings)
        self.presence = PresenceBook(session, settings)
        self.rings = Rings(session)

    # -- the kiosk's side ------------------------------------------------------------------------

    def kiosk_services(self) -> list[Service]:
        stmt = (
            select(Service)
            .where(Service.active.is_(True), Service.channels.contains(Channel.KIOSK.value))
            .options(selectinload(Service.department))
            .order_by(Service.sort_order, Service.id)
        )
        return list(self.session.scalars(stmt))

    def _next_number(self, now: datetime) -> int:
        """Today's next 受付番号 (the caller holds the routing lock)."""
        day = now.astimezone(self.tz).date()
        last = self.session.scalar(
            select(func.max(QueueTicket.number)).where(QueueTicket.day == day)
        )
        return (last or 0) + 1

    def take(
        self,
        kiosk: Kiosk,
        service_id: int,
        now: datetime,
        *,
        interpreter_language: str | None = None,
    ) -> QueueTicket:
        """A walk-in's ticket (受付番号) for a service offered at kiosks, while
        staff are on duty (the rule of the kiosk's walk-in screen)."""
        service = self.session.get(Service, service_id)
        if (
            service is None
            or not service.active
            or Channel.KIOSK.value not in service.channels.split(",")
        ):
            raise ServiceNotAtKiosk(str(service_id))
        if not KioskService(self.session, self.tz).staffed(now, days=0).open_now:
            raise OutsideStaffedHours(str(service_id))
        if interpreter_language is not None:
            language = self.session.get(InterpreterLanguage, interpreter_language)
            if language is None or not language.active:
                raise UnknownInterpreterLanguage(interpreter_language)
        routing_lock(self.session)
        number = self._next_number(now)
        ticket = QueueTicket(
            day=now.astimezone(self.tz).date(),
            number=number,
            kiosk_id=kiosk.id,
            service_id=service.id,
            priority=int(Priority.WALK_IN),
            room_id="wi-" + secrets.token_urlsafe(18),
            status=TicketStatus.WAITING,
            queued_at=now,
            refused_by=[],
            interpreter_language=interpreter_language,
        )
        self.session.add(ticket)
        self.session.flush()
        log.info(
            "ticket %s (no. %s) queued at kiosk %s (interpreter: %s)",
            ticket.id,
            number,
            kiosk.id,
            interpreter_language or "-",
        )
        self.rounds.route(now)
        return ticket

    def enqueue_booking(self, booking: Booking, kiosk: Kiosk, now: datetime) -> QueueTicket:
        """A booked kiosk visit joins the queue; it is due at its booked start
        and then goes before walk-ins, ringing its booked staff member first."""
        routing_lock(self.session)
        existing = self.session.scalar(
            select(QueueTicket).where(QueueTicket.booking_id == booking.id)
        )
        if existing is not None:
            return existing
        number = self._next_number(now)
        ticket = QueueTicket(
            day=now.astimezone(self.tz).date(),
            number=number,
            kiosk_id=kiosk.id,
            service_id=booking.service_id,
            booking_id=booking.id,
            priority=int(Priority.BOOKED),
            room_id=booking.room_id,
            status=TicketStatus.WAITING,
            queued_at=booking.start_at,
            refused_by=[],
        )
        self.session.add(ticket)
        self.session.flush()
        log.info("booking %s queued as ticket %s", booking.id, ticket.id)
        self.rounds.route(now)
        return ticket

    def of_kiosk(self, kiosk: Kiosk, ticket_id: int) -> QueueTicket:
        ticket = self.session.get(QueueTicket, ticket_id)
        if ticket is None or ticket.kiosk_id != kiosk.id:
            raise TicketGone(str(ticket_id))
        return ticket

    def leave(self, kiosk: Kiosk, ticket_id: int, now: datetime) -> QueueTicket:
        routing_lock(self.session)
        ticket = self.of_kiosk(kiosk, ticket_id)
        if ticket.status != TicketStatus.WAITING:
            raise TicketGone(str(ticket_id))
        ticket.status = TicketStatus.LEFT
        ticket.ended_at = now
        release_room(self.session, ticket.room_id, now, "ticket-left")
        log.info("ticket %s left the queue", ticket.id)
        self.rounds.route(now)
        return ticket

    # -- the staff side --------------------------------------------------------------------------

    def accept(self, staff: Staff, ring_id: int, now: datetime) -> QueueTicket:
        routing_lock(self.session)
        ring, ticket = self.rings.open(RingKind.TICKET, ring_id, staff.id, now)
        assert isinstance(ticket, QueueTicket)
        self.presence.seen(staff.id, now)
        Rings.accept(ring, now)
        ticket.status = TicketStatus.IN_CALL
        ticket.staff_id = staff.id
        ticket.accepted_at = now
        self.presence.set(staff.id, Presence.IN_CALL, now)
        log.info("staff %s accepted ticket %s", staff.id, ticket.id)
        self.rounds.route(now)
        return ticket

    def decline(self, staff: Staff, ring_id: int, now: datetime) -> None:
        routing_lock(self.session)
        ring, ticket = self.rings.open(RingKind.TICKET, ring_id, staff.id, now)
        self.presence.seen(staff.id, now)
        Rings.decline(ring, ticket, now)
        log.info("staff %s declined ticket %s", staff.id, ticket.id)
        self.rounds.route(now)

    def finish(self, staff: Staff, ticket_id: int, now: datetime) -> QueueTicket:
        """The staff member ends the call: the ticket is done and they are free again."""
        routing_lock(self.session)
        self.presence.seen(staff.id, now)
        ticket = self.in_call_for(staff, ticket_id)
        ticket.status = TicketStatus.DONE
        ticket.ended_at = now
        release_room(self.session, ticket.room_id, now, "ticket-done")
        if self.presence.of(staff.id) is Presence.IN_CALL:
            self.presence.set(staff.id, Presence.AVAILABLE, now)
        log.info("staff %s finished ticket %s", staff.id, ticket.id)
        self.rounds.route(now)
        return ticket

    def in_call_for(self, staff: Staff, ticket_id: int) -> QueueTicket:
        ticket = self.session.get(QueueTicket, ticket_id)
        if ticket is None or ticket.staff_id != staff.id or ticket.status != TicketStatus.IN_CALL:
            raise TicketGone(str(ticket_id))
        return ticket

    # -- what the kiosk and the supervisor see ---------------------------------------------------

    def view(self, ticket: QueueTicket, now: datetime) -> TicketView:
        """Place in line among this service's calls, and the outlook
        (``app.counter.outlook``): the expected wait, or nobody to answer."""
        if ticket.status != TicketStatus.WAITING:
            return TicketView(ticket, None, None, ticket.escalated_at is not None)
        waiting = waiting_tickets(self.session)
        calls = [Call(t.id, t.service_id, Priority(t.priority), t.queued_at) for t in waiting]
        ahead = [
            c
            for c in waiting_order(calls)
            if c.service_id == ticket.service_id and c.queued_at <= max(now, ticket.queued_at)
        ]
        position = next((i for i, c in enumerate(ahead, 1) if c.id == ticket.id), len(ahead) + 1)
        outlook = Outlooks(self.session, self.tz, self.settings).of(ticket, now)
        return TicketView(
            ticket,
            position,
            outlook.estimate,
            ticket.escalated_at is not None,
            outlook.expected_at,
        )

    def board(self, now: datetime) -> list[tuple[QueueTicket, RingOffer | None]]:
        """The supervisor's view: every waiting ticket, in serving order, with
        the ring ringing for it (escalation is on the ticket)."""
        self.rounds.route(now)
        tickets = {t.id: t for t in waiting_tickets(self.session)}
        calls = [
            Call(t.id, t.service_id, Priority(t.priority), t.queued_at) for t in tickets.values()
        ]
        ringing = self.rings.ringing_by_subject(RingKind.TICKET)
        return [(tickets[c.id], ringing.get(c.id)) for c in waiting_order(calls)]
