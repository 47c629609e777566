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

Hand-over requests (a call in progress handed to a department, or a ring for
one named colleague) go through the same round: they become ``Call``s with a
department or a target (negative ids, so they never collide with tickets),
and their rings live in ``handover_offers``. A console that stopped polling
for ``presence_timeout_seconds`` counts as offline in the round.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, selectinload

from app.calls.models import CallEventRow
from app.counter.models import (
    HandoverKind,
    HandoverOffer,
    HandoverRequest,
    HandoverStatus,
    InterpreterCall,
    OfferResult,
    QueueOffer,
    QueueTicket,
    StaffPresence,
    TicketStatus,
)
from app.counter.settings import CounterSettings
from app.kiosk.service import KioskService
from scheduler.models import Booking, Department, InterpreterLanguage, Kiosk, Service, Staff
from scheduler.routing import (
    Call,
    Offer,
    Plan,
    Presence,
    Priority,
    StaffMember,
    estimate_wait,
    plan,
    timed_out,
    waiting_order,
)
from scheduler.types import Channel

log = logging.getLogger(__name__)

ON_DUTY = (Presence.AVAILABLE, Presence.IN_CALL)
# Any constant works: it only has to be the same in every app process.
ROUTING_LOCK_KEY = 60066006


class CounterError(Exception):
    """Base of the queue's errors; ``code`` is stable."""

    code = "counter-error"


class ServiceNotAtKiosk(CounterError):
    code = "service-not-at-kiosk"


class TicketGone(CounterError):
    """The ticket is not waiting (any more), or not this kiosk's."""

    code = "ticket-gone"


class TicketNotFound(CounterError):
    """No walk-in ticket with this id (a staff action on an unknown ticket)."""

    code = "ticket-not-found"


class OutsideStaffedHours(CounterError):
    """No department with kiosk services is staffed now (holidays and closures included)."""

    code = "outside-staffed-hours"


class UnknownInterpreterLanguage(CounterError):
    code = "unknown-interpreter-language"


class OfferGone(CounterError):
    """The offer stopped ringing (answered elsewhere, lapsed, or the resident left)."""

    code = "offer-gone"


class InvalidHandover(CounterError):
    """No such department, a service of another department, or an unknown colleague."""

    code = "handover-invalid"


def handover_call_id(request_id: int) -> int:
    """A hand-over request's id in the routing core (tickets keep theirs)."""
    return -request_id


@dataclass(frozen=True, slots=True)
class TicketView:
    ticket: QueueTicket
    position: int | None  # 1 = next; None when not waiting
    estimate: timedelta | None
    escalated: bool


def _presence(value: str) -> Presence:
    return Presence(value)


def release_room(session: Session, room_id: str, now: datetime, reason: str) -> None:
    """End the on-demand interpreter reservation of a room, if any (app.counter.interpreters)."""
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
        row = self.session.get(StaffPresence, staff.id)
        assert row is not None
        # Chosen by hand: a later timeout restores nothing older than this.
        row.resume_status = None
        row.seen_at = now
        log.info("staff %s is %s", staff.id, status.value)
        self.route(now)

    def seen(self, staff: Staff, now: datetime) -> None:
        """The console or the call page polled: the staff member is at their
        desk. Someone the timeout set offline is back as they were."""
        self._lock()
        row = self.session.get(StaffPresence, staff.id)
        if row is None:
            return
        row.seen_at = now
        if row.status == Presence.OFFLINE and row.resume_status is not None:
            back = _presence(row.resume_status)
            row.resume_status = None
            self._set_presence(staff.id, back, now)
            log.info("staff %s is back (%s)", staff.id, back.value)
        self.session.flush()

    def _expire_presence(self, now: datetime) -> None:
        """Staff whose console stopped polling are offline for routing."""
        timeout = timedelta(seconds=self.settings.presence_timeout_seconds)
        rows = self.session.scalars(
            select(StaffPresence).where(StaffPresence.status != Presence.OFFLINE)
        )
        for row in rows:
            if timed_out(row.seen_at, now, timeout):
                row.resume_status = row.status
                row.status = Presence.OFFLINE
                row.updated_at = now
                log.info("staff %s: console closed, offline", row.staff_id)

    def _set_presence(self, staff_id: int, status: Presence, now: datetime) -> None:
        row = self.session.get(StaffPresence, staff_id)
        if row is None:
            row = StaffPresence(
                staff_id=staff_id, status=status, idle_since=now, updated_at=now, seen_at=now
            )
            self.session.add(row)
        elif row.status != status:
            if status is Presence.AVAILABLE:
                row.idle_since = now
            row.status = status
            row.updated_at = now
        self.session.flush()

    def ringing_for(self, staff: Staff, now: datetime) -> list[QueueOffer]:
        """Offers ringing at this staff member (after a routing round); asking
        is the console's poll, so it also counts as being seen."""
        self.seen(staff, now)
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
        self.seen(staff, now)
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
        self.seen(staff, now)
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
        self.seen(staff, now)
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

    # -- hand-over requests ----------------------------------------------------------------------

    def request_handover(
        self,
        from_staff: Staff,
        *,
        room_id: str,
        mode: str,
        now: datetime,
        kind: HandoverKind = HandoverKind.HANDOVER,
        booking_id: int | None = None,
        ticket_id: int | None = None,
        department_id: int | None = None,
        service_id: int | None = None,
        target_staff_id: int | None = None,
        context: str = "",
    ) -> HandoverRequest:
        """Hand a call in progress to a department's qualified staff (routed
        like a walk-in) or ring one named colleague."""
        self._lock()
        if (department_id is None) == (target_staff_id is None):
            raise InvalidHandover("a department or a colleague")
        if department_id is not None:
            if self.session.get(Department, department_id) is None:
                raise InvalidHandover(f"department {department_id}")
            if service_id is not None:
                service = self.session.get(Service, service_id)
                if service is None or not service.active or service.department_id != department_id:
                    raise InvalidHandover(f"service {service_id}")
        else:
            service_id = None
            target = self.session.get(Staff, target_staff_id)
            if target is None or not target.active or target.id == from_staff.id:
                raise InvalidHandover(f"staff {target_staff_id}")
        self.seen(from_staff, now)
        if kind is HandoverKind.HANDOVER:
            # A new hand-over of the same call replaces one still waiting.
            for old in self.session.scalars(
                select(HandoverRequest).where(
                    HandoverRequest.room_id == room_id,
                    HandoverRequest.kind == HandoverKind.HANDOVER,
                    HandoverRequest.status == HandoverStatus.WAITING,
                )
            ):
                old.status = HandoverStatus.CANCELLED
                old.ended_at = now
        request = HandoverRequest(
            room_id=room_id,
            booking_id=booking_id,
            ticket_id=ticket_id,
            kind=kind,
            mode=mode,
            from_staff_id=from_staff.id,
            department_id=department_id,
            service_id=service_id,
            target_staff_id=target_staff_id,
            context=context[:2000],
            status=HandoverStatus.WAITING,
            queued_at=now,
            refused_by=[],
        )
        self.session.add(request)
        self.session.flush()
        if kind is HandoverKind.HANDOVER and mode == "cold":
            # The first staff member leaves at once; the resident waits in the room.
            self._release(from_staff.id, now)
        log.info(
            "room %s: %s %s by staff %s (department %s, staff %s)",
            room_id,
            mode,
            kind.value,
            from_staff.id,
            department_id,
            target_staff_id,
        )
        self.route(now)
        return request

    def _release(self, staff_id: int, now: datetime) -> None:
        """A staff member whose call ended (or who handed it over) is free again;
        one the timeout set offline comes back available, not in a call."""
        row = self.session.get(StaffPresence, staff_id)
        if row is None:
            return
        if row.status == Presence.IN_CALL:
            self._set_presence(staff_id, Presence.AVAILABLE, now)
        elif row.status == Presence.OFFLINE and row.resume_status == Presence.IN_CALL:
            row.resume_status = Presence.AVAILABLE

    def handover_ringing_for(self, staff: Staff) -> list[HandoverOffer]:
        """Hand-over rings at this staff member (call after ``ringing_for``)."""
        return list(
            self.session.scalars(
                select(HandoverOffer).where(
                    HandoverOffer.staff_id == staff.id, HandoverOffer.result == OfferResult.RINGING
                )
            )
        )

    def _ringing_handover(self, staff: Staff, offer_id: int, now: datetime) -> HandoverOffer:
        self._lock()
        offer = self.session.get(HandoverOffer, offer_id)
        if offer is None or offer.staff_id != staff.id:
            raise OfferGone(str(offer_id))
        if offer.result != OfferResult.RINGING or now >= offer.expires_at:
            raise OfferGone(str(offer_id))
        request = self.session.get(HandoverRequest, offer.request_id)
        if request is None or request.status != HandoverStatus.WAITING:
            raise OfferGone(str(offer_id))
        return offer

    def accept_handover(self, staff: Staff, offer_id: int, now: datetime) -> HandoverRequest:
        offer = self._ringing_handover(staff, offer_id, now)
        self.seen(staff, now)
        request = self.session.get(HandoverRequest, offer.request_id)
        assert request is not None
        offer.result = OfferResult.ACCEPTED
        offer.answered_at = now
        request.status = HandoverStatus.ACCEPTED
        request.accepted_by = staff.id
        request.accepted_at = now
        if request.kind == HandoverKind.HANDOVER:
            if request.ticket_id is not None:
                # The walk-in's call is theirs now: rejoin and finish.
                ticket = self.session.get(QueueTicket, request.ticket_id)
                if ticket is not None and ticket.status == TicketStatus.IN_CALL:
                    ticket.staff_id = staff.id
            self._set_presence(staff.id, Presence.IN_CALL, now)
        log.info("staff %s accepted %s request %s", staff.id, request.kind, request.id)
        self.route(now)
        return request

    def decline_handover(self, staff: Staff, offer_id: int, now: datetime) -> None:
        offer = self._ringing_handover(staff, offer_id, now)
        self.seen(staff, now)
        request = self.session.get(HandoverRequest, offer.request_id)
        assert request is not None
        offer.result = OfferResult.DECLINED
        offer.answered_at = now
        request.refused_by = [*request.refused_by, staff.id]
        request.refused_at = now
        if request.target_staff_id is not None:
            # The one colleague asked said no: the caller hears it, no re-ring.
            request.status = HandoverStatus.DECLINED
            request.ended_at = now
        log.info("staff %s declined request %s", staff.id, request.id)
        self.route(now)

    def handover_request(self, request_id: int) -> HandoverRequest | None:
        return self.session.get(HandoverRequest, request_id)

    def warm_handover_of(self, staff: Staff, ticket_id: int) -> bool:
        """Whether this staff member took the walk-in over warm (their join
        ticket then takes the hand-over seat, the first may still be there)."""
        return (
            self.session.scalar(
                select(HandoverRequest.id).where(
                    HandoverRequest.ticket_id == ticket_id,
                    HandoverRequest.accepted_by == staff.id,
                    HandoverRequest.status == HandoverStatus.ACCEPTED,
                    HandoverRequest.mode == "warm",
                )
            )
            is not None
        )

    def _sync_handovers(self, now: datetime) -> None:
        """Follow the rooms of hand-over requests: a call that ended cancels
        a waiting request, and in a warm hand-over the first staff member is
        free once they left after the colleague joined."""
        open_rows = list(
            self.session.scalars(
                select(HandoverRequest).where(
                    (HandoverRequest.status == HandoverStatus.WAITING)
                    | (
                        (HandoverRequest.status == HandoverStatus.ACCEPTED)
                        & (HandoverRequest.kind == HandoverKind.HANDOVER)
                        & HandoverRequest.ended_at.is_(None)
                    )
                )
            )
        )
        if not open_rows:
            return
        rooms = {r.room_id for r in open_rows}
        events: dict[str, list[tuple[str, str | None]]] = {room: [] for room in rooms}
        for room, kind, participant in self.session.execute(
            select(CallEventRow.room, CallEventRow.kind, CallEventRow.participant)
            .where(
                CallEventRow.room.in_(list(rooms)),
                CallEventRow.kind.in_(["join", "leave", "call-end"]),
            )
            .order_by(CallEventRow.at, CallEventRow.id)
        ):
            events[room].append((kind, participant))
        for request in open_rows:
            seen = events[request.room_id]
            ticket = (
                self.session.get(QueueTicket, request.ticket_id)
                if request.ticket_id is not None
                else None
            )
            ended = any(kind == "call-end" for kind, _ in seen) or (
                ticket is not None and ticket.status in (TicketStatus.DONE, TicketStatus.LEFT)
            )
            if request.status == HandoverStatus.WAITING:
                if ended:
                    request.status = HandoverStatus.CANCELLED
                    request.ended_at = now
                    log.info("request %s cancelled: the call ended", request.id)
                continue
            first = f"staff:{request.from_staff_id}"
            joined = any(
                kind == "join" and participant == f"staff:{request.accepted_by}"
                for kind, participant in seen
            )
            mine = [kind for kind, participant in seen if participant == first]
            if ended or (joined and mine and mine[-1] == "leave"):
                request.ended_at = now
                self._release(request.from_staff_id, now)

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
            .options(selectinload(Staff.skills), selectinload(Staff.departments))
        ).all()
        return [
            StaffMember(
                staff.id,
                frozenset(s.id for s in staff.skills if s.active),
                _presence(presence.status),
                presence.idle_since,
                frozenset(d.id for d in staff.departments),
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
                if ticket.staff_id is not None:
                    self._release(ticket.staff_id, now)
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
        self._expire_presence(now)
        self._sync_with_calls(now)
        self._sync_handovers(now)
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
        requests = list(
            self.session.scalars(
                select(HandoverRequest).where(HandoverRequest.status == HandoverStatus.WAITING)
            )
        )
        calls += [
            Call(
                handover_call_id(r.id),
                r.service_id,
                Priority.HANDOVER,
                r.queued_at,
                tuple(r.refused_by),
                refused_at=r.refused_at,
                department_id=r.department_id,
                target_staff=r.target_staff_id,
            )
            for r in requests
        ]
        rows = list(
            self.session.scalars(select(QueueOffer).where(QueueOffer.result == OfferResult.RINGING))
        )
        handover_rows = list(
            self.session.scalars(
                select(HandoverOffer).where(HandoverOffer.result == OfferResult.RINGING)
            )
        )
        by_key: dict[tuple[int, int], QueueOffer | HandoverOffer] = {
            (o.ticket_id, o.staff_id): o for o in rows
        }
        by_key.update({(handover_call_id(o.request_id), o.staff_id): o for o in handover_rows})
        offers = [Offer(o.ticket_id, o.staff_id, o.offered_at, o.expires_at) for o in rows] + [
            Offer(handover_call_id(o.request_id), o.staff_id, o.offered_at, o.expires_at)
            for o in handover_rows
        ]
        result = plan(calls, self._members(), offers, now, self.policy)
        by_call: dict[int, QueueTicket | HandoverRequest] = {t.id: t for t in tickets}
        by_call.update({handover_call_id(r.id): r for r in requests})
        for lapsed in result.lapsed:
            row = by_key[(lapsed.call_id, lapsed.staff_id)]
            row.result = OfferResult.LAPSED
            waiting = by_call.get(lapsed.call_id)
            if lapsed.staff_id in result.set_away and waiting is not None:
                waiting.refused_by = [*waiting.refused_by, lapsed.staff_id]
                waiting.refused_at = now
                log.info("call %s: staff %s did not answer", lapsed.call_id, lapsed.staff_id)
        for staff_id in result.set_away:
            self._set_presence(staff_id, Presence.AWAY, now)
        # Lapsed rows first, so the partial unique indexes never see two ringing.
        self.session.flush()
        for new in result.offers:
            if new.call_id < 0:
                self.session.add(
                    HandoverOffer(
                        request_id=-new.call_id,
                        staff_id=new.staff_id,
                        offered_at=new.offered_at,
                        expires_at=new.expires_at,
                        result=OfferResult.RINGING,
                    )
                )
                log.info("request %s offered to staff %s", -new.call_id, new.staff_id)
                continue
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
        for call_id in result.escalated:
            escalated = by_call[call_id]
            if escalated.escalated_at is None:
                escalated.escalated_at = now
                log.warning("call %s escalated: waiting since %s", call_id, escalated.queued_at)
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

    def handover_board(self) -> list[tuple[HandoverRequest, HandoverOffer | None]]:
        """Hand-over requests still waiting (for the supervisor; call after a round)."""
        requests = list(
            self.session.scalars(
                select(HandoverRequest)
                .where(HandoverRequest.status == HandoverStatus.WAITING)
                .order_by(HandoverRequest.queued_at, HandoverRequest.id)
            )
        )
        ringing = {
            o.request_id: o
            for o in self.session.scalars(
                select(HandoverOffer).where(HandoverOffer.result == OfferResult.RINGING)
            )
        }
        return [(r, ringing.get(r.id)) for r in requests]
