"""The remote counter's queue on the database: tickets, presence, offers.

``CounterService`` is the thin I/O layer around the pure routing core
(``scheduler.routing``): every change (a ticket taken or left, a presence
change, an offer answered) and every poll runs one routing round inside the
same writer transaction: load the waiting tickets, the staff with their
presence and the ringing offers, call ``plan(...)`` with ``now``, write the
result. Rounds are serialised (SQLite ``BEGIN IMMEDIATE``; PostgreSQL a
transaction-scoped advisory lock), and two partial unique indexes refuse a
second ringing offer for one ticket or one person, so several app processes
agree. Routes commit once; this class never commits.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, selectinload

from app.call_events import CallEventRow
from app.counter_orm import (
    InterpreterCall,
    OfferResult,
    QueueOffer,
    QueueTicket,
    StaffPresence,
    TicketStatus,
)
from app.kiosk import KioskService
from scheduler.orm import Booking, InterpreterLanguage, Kiosk, Service, Staff
from scheduler.routing import (
    Call,
    Offer,
    Plan,
    Presence,
    Priority,
    RoutingPolicy,
    StaffMember,
    estimate_wait,
    plan,
    waiting_order,
)
from scheduler.types import Channel

log = logging.getLogger(__name__)

ON_DUTY = (Presence.AVAILABLE, Presence.IN_CALL)
# Any constant works: it only has to be the same in every app process.
ROUTING_LOCK_KEY = 60066006


class CounterSettings(BaseSettings):
    """Walk-in queue and routing settings (``MADOGUCHI_COUNTER_*``)."""

    model_config = SettingsConfigDict(env_prefix="MADOGUCHI_COUNTER_", extra="ignore")

    # An offer rings this long; unanswered, it goes to the next staff member.
    offer_timeout_seconds: int = Field(default=20, ge=5, le=300)
    # Who declined a call (or let it ring out) is asked again, when nobody else
    # qualified is free, only this long after.
    reoffer_after_seconds: int = Field(default=60, ge=0, le=3600)
    # A call waiting longer than this shows as escalated on the supervisor view.
    escalate_after_minutes: int = Field(default=10, ge=1, le=240)
    # The wait estimate uses the median talk time of this many recent calls.
    recent_calls: int = Field(default=20, ge=1, le=500)
    # ... or this, before any call was finished.
    default_talk_minutes: int = Field(default=8, ge=1, le=120)

    def policy(self) -> RoutingPolicy:
        return RoutingPolicy(
            offer_timeout=timedelta(seconds=self.offer_timeout_seconds),
            escalate_after=timedelta(minutes=self.escalate_after_minutes),
            reoffer_after=timedelta(seconds=self.reoffer_after_seconds),
        )


class CounterError(Exception):
    """Base of the queue's errors; ``code`` is stable."""

    code = "counter-error"


class ServiceNotAtKiosk(CounterError):
    code = "service-not-at-kiosk"


class TicketGone(CounterError):
    """The ticket is not waiting (any more), or not this kiosk's."""

    code = "ticket-gone"


class OutsideStaffedHours(CounterError):
    """No department with kiosk services is staffed now (holidays and closures included)."""

    code = "outside-staffed-hours"


class UnknownInterpreterLanguage(CounterError):
    code = "unknown-interpreter-language"


class OfferGone(CounterError):
    """The offer stopped ringing (answered elsewhere, lapsed, or the resident left)."""

    code = "offer-gone"


@dataclass(frozen=True, slots=True)
class TicketView:
    ticket: QueueTicket
    position: int | None  # 1 = next; None when not waiting
    estimate: timedelta | None
    escalated: bool


def _presence(value: str) -> Presence:
    return Presence(value)


def release_room(session: Session, room_id: str, now: datetime, reason: str) -> None:
    """End the on-demand interpreter reservation of a room, if any (app.interpreter_calls)."""
    row = session.scalar(
        select(InterpreterCall).where(
            InterpreterCall.room_id == room_id, InterpreterCall.released_at.is_(None)
        )
    )
    if row is not None:
        row.released_at = now
        row.release_reason = reason
        log.info("room %s: interpreter %s released (%s)", room_id, row.interpreter_id, reason)


class CounterService:
    def __init__(self, session: Session, tz: ZoneInfo, settings: CounterSettings) -> None:
        self.session = session
        self.tz = tz
        self.settings = settings
        self.policy = settings.policy()

    # -- serialising routing rounds ------------------------------------------------------------

    def _lock(self) -> None:
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": ROUTING_LOCK_KEY}
            )

    # -- tickets ----------------------------------------------------------------------------------

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

    def take_ticket(
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
        self._lock()
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
        self.route(now)
        return ticket

    def enqueue_booking(self, booking: Booking, kiosk: Kiosk, now: datetime) -> QueueTicket:
        """A booked kiosk visit joins the queue; it is due at its booked start
        and then goes before walk-ins, ringing its booked staff member first."""
        self._lock()
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
        self.route(now)
        return ticket

    def ticket(self, kiosk: Kiosk, ticket_id: int) -> QueueTicket:
        ticket = self.session.get(QueueTicket, ticket_id)
        if ticket is None or ticket.kiosk_id != kiosk.id:
            raise TicketGone(str(ticket_id))
        return ticket

    def leave(self, kiosk: Kiosk, ticket_id: int, now: datetime) -> QueueTicket:
        self._lock()
        ticket = self.ticket(kiosk, ticket_id)
        if ticket.status != TicketStatus.WAITING:
            raise TicketGone(str(ticket_id))
        ticket.status = TicketStatus.LEFT
        ticket.ended_at = now
        release_room(self.session, ticket.room_id, now, "ticket-left")
        log.info("ticket %s left the queue", ticket.id)
        self.route(now)
        return ticket

    # -- presence and offers -------------------------------------------------------------------

    def presence(self, staff_id: int) -> Presence:
        row = self.session.get(StaffPresence, staff_id)
        return _presence(row.status) if row else Presence.OFFLINE

    def set_presence(self, staff: Staff, status: Presence, now: datetime) -> None:
        self._lock()
        self._set_presence(staff.id, status, now)
        log.info("staff %s is %s", staff.id, status.value)
        self.route(now)

    def _set_presence(self, staff_id: int, status: Presence, now: datetime) -> None:
        row = self.session.get(StaffPresence, staff_id)
        if row is None:
            row = StaffPresence(staff_id=staff_id, status=status, idle_since=now, updated_at=now)
            self.session.add(row)
        elif row.status != status:
            if status is Presence.AVAILABLE:
                row.idle_since = now
            row.status = status
            row.updated_at = now
        self.session.flush()

    def ringing_for(self, staff: Staff, now: datetime) -> list[QueueOffer]:
        """Offers ringing at this staff member (after a routing round)."""
        self.route(now)
        return list(
            self.session.scalars(
                select(QueueOffer).where(
                    QueueOffer.staff_id == staff.id, QueueOffer.result == OfferResult.RINGING
                )
            )
        )

    def _ringing_offer(self, staff: Staff, offer_id: int, now: datetime) -> QueueOffer:
        self._lock()
        offer = self.session.get(QueueOffer, offer_id)
        if offer is None or offer.staff_id != staff.id:
            raise OfferGone(str(offer_id))
        if offer.result != OfferResult.RINGING or now >= offer.expires_at:
            raise OfferGone(str(offer_id))
        ticket = self.session.get(QueueTicket, offer.ticket_id)
        if ticket is None or ticket.status != TicketStatus.WAITING:
            raise OfferGone(str(offer_id))
        return offer

    def accept(self, staff: Staff, offer_id: int, now: datetime) -> QueueTicket:
        offer = self._ringing_offer(staff, offer_id, now)
        ticket = self.session.get(QueueTicket, offer.ticket_id)
        assert ticket is not None
        offer.result = OfferResult.ACCEPTED
        offer.answered_at = now
        ticket.status = TicketStatus.IN_CALL
        ticket.staff_id = staff.id
        ticket.accepted_at = now
        self._set_presence(staff.id, Presence.IN_CALL, now)
        log.info("staff %s accepted ticket %s", staff.id, ticket.id)
        self.route(now)
        return ticket

    def decline(self, staff: Staff, offer_id: int, now: datetime) -> None:
        offer = self._ringing_offer(staff, offer_id, now)
        ticket = self.session.get(QueueTicket, offer.ticket_id)
        assert ticket is not None
        offer.result = OfferResult.DECLINED
        offer.answered_at = now
        ticket.refused_by = [*ticket.refused_by, staff.id]
        ticket.refused_at = now
        log.info("staff %s declined ticket %s", staff.id, ticket.id)
        self.route(now)

    def finish(self, staff: Staff, ticket_id: int, now: datetime) -> QueueTicket:
        """The staff member ends the call: the ticket is done and they are free again."""
        self._lock()
        ticket = self.session.get(QueueTicket, ticket_id)
        if ticket is None or ticket.staff_id != staff.id or ticket.status != TicketStatus.IN_CALL:
            raise TicketGone(str(ticket_id))
        ticket.status = TicketStatus.DONE
        ticket.ended_at = now
        release_room(self.session, ticket.room_id, now, "ticket-done")
        if self.presence(staff.id) is Presence.IN_CALL:
            self._set_presence(staff.id, Presence.AVAILABLE, now)
        log.info("staff %s finished ticket %s", staff.id, ticket.id)
        self.route(now)
        return ticket

    def in_call_for(self, staff: Staff, ticket_id: int) -> QueueTicket:
        ticket = self.session.get(QueueTicket, ticket_id)
        if ticket is None or ticket.staff_id != staff.id or ticket.status != TicketStatus.IN_CALL:
            raise TicketGone(str(ticket_id))
        return ticket

    # -- the routing round ---------------------------------------------------------------------

    def _waiting(self) -> list[QueueTicket]:
        return list(
            self.session.scalars(
                select(QueueTicket).where(QueueTicket.status == TicketStatus.WAITING)
            )
        )

    def _members(self) -> list[StaffMember]:
        rows = self.session.execute(
            select(Staff, StaffPresence)
            .join(StaffPresence, StaffPresence.staff_id == Staff.id)
            .where(Staff.active.is_(True))
            .options(selectinload(Staff.skills))
        ).all()
        return [
            StaffMember(
                staff.id,
                frozenset(s.id for s in staff.skills if s.active),
                _presence(presence.status),
                presence.idle_since,
            )
            for staff, presence in rows
        ]

    def _preferred(self, tickets: Sequence[QueueTicket]) -> dict[int, int]:
        ids = [t.booking_id for t in tickets if t.booking_id is not None]
        if not ids:
            return {}
        rows = self.session.execute(select(Booking.id, Booking.staff_id).where(Booking.id.in_(ids)))
        return {booking_id: staff_id for booking_id, staff_id in rows}

    def _sync_with_calls(self, now: datetime) -> None:
        """Follow what happened in the call rooms: a staff member who joined a
        booked visit's room from their own queue has taken it (it stops
        ringing elsewhere), and a call ended with ``end`` is done."""
        active = list(
            self.session.scalars(
                select(QueueTicket).where(
                    QueueTicket.status.in_([TicketStatus.WAITING, TicketStatus.IN_CALL])
                )
            )
        )
        # Yesterday's queue does not ring today: close what a day left open.
        today = now.astimezone(self.tz).date()
        for ticket in [t for t in active if t.day < today]:
            ticket.status = (
                TicketStatus.LEFT if ticket.status == TicketStatus.WAITING else TicketStatus.DONE
            )
            ticket.ended_at = ticket.ended_at or now
            release_room(self.session, ticket.room_id, now, "ticket-done")
            log.info("ticket %s of %s closed at the end of its day", ticket.id, ticket.day)
        active = [t for t in active if t.day >= today]
        if not active:
            self.session.flush()
            return
        by_room = {t.room_id: t for t in active}
        rows = self.session.execute(
            select(CallEventRow.room, CallEventRow.kind, CallEventRow.participant)
            .where(
                CallEventRow.room.in_(list(by_room)),
                CallEventRow.kind.in_(["join", "call-end"]),
            )
            .order_by(CallEventRow.at, CallEventRow.id)
        )
        for room, kind, participant in rows:
            ticket = by_room[room]
            if kind == "call-end" and ticket.status != TicketStatus.DONE:
                ticket.status = TicketStatus.DONE
                ticket.ended_at = ticket.ended_at or now
                release_room(self.session, ticket.room_id, now, "call-end")
                who = ticket.staff_id
                if who is not None and self.presence(who) is Presence.IN_CALL:
                    self._set_presence(who, Presence.AVAILABLE, now)
                log.info("ticket %s: the call ended", ticket.id)
            elif (
                kind == "join"
                and ticket.status == TicketStatus.WAITING
                and ticket.booking_id is not None
                and (participant or "").startswith("staff:")
                and (participant or "").split(":", 1)[1].isdigit()
            ):
                staff_id = int((participant or "").split(":", 1)[1])
                ticket.status = TicketStatus.IN_CALL
                ticket.staff_id = staff_id
                ticket.accepted_at = now
                if self.session.get(StaffPresence, staff_id) is not None:
                    self._set_presence(staff_id, Presence.IN_CALL, now)
                log.info("ticket %s: staff %s joined from their queue", ticket.id, staff_id)
        self.session.flush()

    def route(self, now: datetime) -> Plan:
        """One routing round at ``now``; the caller commits."""
        self._lock()
        self._sync_with_calls(now)
        tickets = self._waiting()
        preferred = self._preferred(tickets)
        calls = [
            Call(
                t.id,
                t.service_id,
                Priority(t.priority),
                t.queued_at,
                tuple(t.refused_by),
                preferred.get(t.booking_id) if t.booking_id is not None else None,
                t.refused_at,
            )
            for t in tickets
        ]
        rows = list(
            self.session.scalars(select(QueueOffer).where(QueueOffer.result == OfferResult.RINGING))
        )
        by_key = {(o.ticket_id, o.staff_id): o for o in rows}
        offers = [Offer(o.ticket_id, o.staff_id, o.offered_at, o.expires_at) for o in rows]
        result = plan(calls, self._members(), offers, now, self.policy)
        by_ticket = {t.id: t for t in tickets}
        for lapsed in result.lapsed:
            row = by_key[(lapsed.call_id, lapsed.staff_id)]
            row.result = OfferResult.LAPSED
            ticket = by_ticket.get(lapsed.call_id)
            if lapsed.staff_id in result.set_away and ticket is not None:
                ticket.refused_by = [*ticket.refused_by, lapsed.staff_id]
                ticket.refused_at = now
                log.info("ticket %s: staff %s did not answer", ticket.id, lapsed.staff_id)
        for staff_id in result.set_away:
            self._set_presence(staff_id, Presence.AWAY, now)
        # Lapsed rows first, so the partial unique indexes never see two ringing.
        self.session.flush()
        for new in result.offers:
            self.session.add(
                QueueOffer(
                    ticket_id=new.call_id,
                    staff_id=new.staff_id,
                    offered_at=new.offered_at,
                    expires_at=new.expires_at,
                    result=OfferResult.RINGING,
                )
            )
            log.info("ticket %s offered to staff %s", new.call_id, new.staff_id)
        for ticket_id in result.escalated:
            ticket = by_ticket[ticket_id]
            if ticket.escalated_at is None:
                ticket.escalated_at = now
                log.warning("ticket %s escalated: waiting since %s", ticket.id, ticket.queued_at)
        self.session.flush()
        return result

    # -- what the kiosk and the supervisor see ------------------------------------------------

    def _recent_talks(self) -> list[timedelta]:
        rows = self.session.execute(
            select(QueueTicket.accepted_at, QueueTicket.ended_at)
            .where(QueueTicket.status == TicketStatus.DONE, QueueTicket.accepted_at.is_not(None))
            .order_by(QueueTicket.ended_at.desc())
            .limit(self.settings.recent_calls)
        )
        return [end - start for start, end in rows if start is not None and end is not None]

    def view(self, ticket: QueueTicket, now: datetime) -> TicketView:
        """Position and estimated wait: median recent talk time × position ÷
        qualified staff on duty (available or in a call)."""
        if ticket.status != TicketStatus.WAITING:
            return TicketView(ticket, None, None, ticket.escalated_at is not None)
        waiting = self._waiting()
        calls = [Call(t.id, t.service_id, Priority(t.priority), t.queued_at) for t in waiting]
        ahead = [
            c
            for c in waiting_order(calls)
            if c.service_id == ticket.service_id and c.queued_at <= max(now, ticket.queued_at)
        ]
        position = next((i for i, c in enumerate(ahead, 1) if c.id == ticket.id), len(ahead) + 1)
        serving = sum(
            1
            for m in self._members()
            if ticket.service_id in m.skills
            and m.presence in (Presence.AVAILABLE, Presence.IN_CALL)
        )
        estimate = estimate_wait(
            position,
            self._recent_talks(),
            serving,
            default_talk=timedelta(minutes=self.settings.default_talk_minutes),
        )
        return TicketView(ticket, position, estimate, ticket.escalated_at is not None)

    def board(self, now: datetime) -> list[tuple[QueueTicket, QueueOffer | None]]:
        """The supervisor's view: every waiting ticket, in serving order, with
        the offer ringing for it (escalation is on the ticket)."""
        self.route(now)
        tickets = {t.id: t for t in self._waiting()}
        calls = [
            Call(t.id, t.service_id, Priority(t.priority), t.queued_at) for t in tickets.values()
        ]
        ringing = {
            o.ticket_id: o
            for o in self.session.scalars(
                select(QueueOffer).where(QueueOffer.result == OfferResult.RINGING)
            )
        }
        return [(tickets[c.id], ringing.get(c.id)) for c in waiting_order(calls)]
