"""Routing rounds: the I/O around the pure routing core (``scheduler.routing.plan``).

Every change to the queue (a ticket taken or left, a presence change, a ring
answered, a hand-over asked for) and every poll runs one round inside the
same writer transaction: follow what happened in the call rooms, load the
waiting tickets and hand-over requests, the staff with their presence and the
rings still ringing, call ``plan(...)`` with ``now`` and write the result.
Rounds are serialised (``app.counter.locking``), and the partial unique
indexes of ``ring_offers`` refuse a second ringing offer for one subject or
one person, so several app processes agree. Nothing here commits.

Tickets and hand-over requests are both ``Call``s to the core; a round
numbers them itself (``_Numbering``), so their own ids never have to share
one id space.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.calls.models import CallEventRow
from app.counter.locking import routing_lock
from app.counter.models import (
    HandoverKind,
    HandoverRequest,
    HandoverStatus,
    InterpreterCall,
    QueueTicket,
    RingKind,
    StaffPresence,
    TicketStatus,
)
from app.counter.presence import PresenceBook
from app.counter.rings import Rings, Subject, refused
from app.counter.settings import CounterSettings
from scheduler.models import Booking
from scheduler.routing import Call, Offer, Plan, Presence, Priority, plan

log = logging.getLogger(__name__)

Key = tuple[RingKind, int]


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


def waiting_tickets(session: Session) -> list[QueueTicket]:
    return list(
        session.scalars(
            select(QueueTicket)
            .where(QueueTicket.status == TicketStatus.WAITING)
            .order_by(QueueTicket.id)
        )
    )


def waiting_requests(session: Session) -> list[HandoverRequest]:
    return list(
        session.scalars(
            select(HandoverRequest)
            .where(HandoverRequest.status == HandoverStatus.WAITING)
            .order_by(HandoverRequest.queued_at, HandoverRequest.id)
        )
    )


class _Numbering:
    """The routing core's call ids for one round: tickets (in id order), then
    hand-over requests, then anything else still ringing."""

    def __init__(self) -> None:
        self.ids: dict[Key, int] = {}
        self.keys: dict[int, Key] = {}

    def __call__(self, key: Key) -> int:
        if key not in self.ids:
            self.ids[key] = len(self.ids) + 1
            self.keys[self.ids[key]] = key
        return self.ids[key]


class Rounds:
    def __init__(self, session: Session, tz: ZoneInfo, settings: CounterSettings) -> None:
        self.session = session
        self.tz = tz
        self.policy = settings.policy()
        self.presence = PresenceBook(session, settings)
        self.rings = Rings(session)

    def route(self, now: datetime) -> Plan:
        """One routing round at ``now``; the caller commits."""
        routing_lock(self.session)
        self.presence.expire(now)
        self._sync_tickets(now)
        self._sync_handovers(now)
        number = _Numbering()
        subjects: dict[int, Subject] = {}
        calls: list[Call] = []
        tickets = waiting_tickets(self.session)
        preferred = self._preferred(tickets)
        for t in tickets:
            call_id = number((RingKind.TICKET, t.id))
            subjects[call_id] = t
            calls.append(
                Call(
                    call_id,
                    t.service_id,
                    Priority(t.priority),
                    t.queued_at,
                    tuple(t.refused_by),
                    preferred.get(t.booking_id) if t.booking_id is not None else None,
                    t.refused_at,
                )
            )
        for r in sorted(waiting_requests(self.session), key=lambda r: r.id):
            call_id = number((RingKind.HANDOVER, r.id))
            subjects[call_id] = r
            calls.append(
                Call(
                    call_id,
                    r.service_id,
                    Priority.HANDOVER,
                    r.queued_at,
                    tuple(r.refused_by),
                    refused_at=r.refused_at,
                    department_id=r.department_id,
                    target_staff=r.target_staff_id,
                )
            )
        ringing = self.rings.ringing()
        by_offer = {(number((RingKind(o.kind), o.subject_id)), o.staff_id): o for o in ringing}
        offers = [
            Offer(call_id, o.staff_id, o.offered_at, o.expires_at)
            for (call_id, _), o in by_offer.items()
        ]
        result = plan(calls, self.presence.members(), offers, now, self.policy)
        for lapsed in result.lapsed:
            Rings.lapse(by_offer[(lapsed.call_id, lapsed.staff_id)])
            subject = subjects.get(lapsed.call_id)
            if lapsed.staff_id in result.set_away and subject is not None:
                refused(subject, lapsed.staff_id, now)
                log.info(
                    "%s: staff %s did not answer", _name(number, lapsed.call_id), lapsed.staff_id
                )
        for staff_id in result.set_away:
            self.presence.set(staff_id, Presence.AWAY, now)
        # Lapsed rows first, so the partial unique indexes never see two ringing.
        self.session.flush()
        for new in result.offers:
            kind, subject_id = number.keys[new.call_id]
            self.rings.ring(kind, subject_id, new.staff_id, new.offered_at, new.expires_at)
            log.info("%s offered to staff %s", _name(number, new.call_id), new.staff_id)
        for call_id in result.escalated:
            escalated = subjects[call_id]
            if escalated.escalated_at is None:
                escalated.escalated_at = now
                log.warning(
                    "%s escalated: waiting since %s",
                    _name(number, call_id),
                    escalated.queued_at,
                )
        self.session.flush()
        return result

    def _preferred(self, tickets: Sequence[QueueTicket]) -> dict[int, int]:
        ids = [t.booking_id for t in tickets if t.booking_id is not None]
        if not ids:
            return {}
        rows = self.session.execute(select(Booking.id, Booking.staff_id).where(Booking.id.in_(ids)))
        return {booking_id: staff_id for booking_id, staff_id in rows}

    def _events(self, rooms: set[str], kinds: list[str]) -> dict[str, list[tuple[str, str | None]]]:
        """Each room's call events of these kinds, in order."""
        events: dict[str, list[tuple[str, str | None]]] = {room: [] for room in rooms}
        for room, kind, participant in self.session.execute(
            select(CallEventRow.room, CallEventRow.kind, CallEventRow.participant)
            .where(CallEventRow.room.in_(list(rooms)), CallEventRow.kind.in_(kinds))
            .order_by(CallEventRow.at, CallEventRow.id)
        ):
            events[room].append((kind, participant))
        return events

    def _sync_tickets(self, now: datetime) -> None:
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
        # In the order things happened, across rooms: one staff member's
        # presence follows their latest call.
        for room, kind, participant in self.session.execute(
            select(CallEventRow.room, CallEventRow.kind, CallEventRow.participant)
            .where(
                CallEventRow.room.in_(list(by_room)),
                CallEventRow.kind.in_(["join", "call-end"]),
            )
            .order_by(CallEventRow.at, CallEventRow.id)
        ):
            self._follow(by_room[room], kind, participant or "", now)
        self.session.flush()

    def _follow(self, ticket: QueueTicket, kind: str, participant: str, now: datetime) -> None:
        if kind == "call-end" and ticket.status != TicketStatus.DONE:
            ticket.status = TicketStatus.DONE
            ticket.ended_at = ticket.ended_at or now
            release_room(self.session, ticket.room_id, now, "call-end")
            if ticket.staff_id is not None:
                self.presence.release(ticket.staff_id, now)
            log.info("ticket %s: the call ended", ticket.id)
        elif (
            kind == "join"
            and ticket.status == TicketStatus.WAITING
            and ticket.booking_id is not None
            and participant.startswith("staff:")
            and participant.split(":", 1)[1].isdigit()
        ):
            staff_id = int(participant.split(":", 1)[1])
            ticket.status = TicketStatus.IN_CALL
            ticket.staff_id = staff_id
            ticket.accepted_at = now
            if self.session.get(StaffPresence, staff_id) is not None:
                self.presence.set(staff_id, Presence.IN_CALL, now)
            log.info("ticket %s: staff %s joined from their queue", ticket.id, staff_id)

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
        events = self._events({r.room_id for r in open_rows}, ["join", "leave", "call-end"])
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
                self.presence.release(request.from_staff_id, now)


def _name(number: _Numbering, call_id: int) -> str:
    kind, subject_id = number.keys[call_id]
    return f"{'ticket' if kind == RingKind.TICKET else 'request'} {subject_id}"
