"""Hand-over requests: a call in progress handed to a department's qualified
staff (routed like a walk-in) or to one named colleague, or an invitation to
join it as an observer. They ring through the same rings and rounds as
walk-in tickets (``app.counter.rings``, ``app.counter.rounds``); what is their
own is what asking and answering do. Nothing here commits.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.counter.errors import InvalidHandover
from app.counter.locking import routing_lock
from app.counter.models import (
    HandoverKind,
    HandoverRequest,
    HandoverStatus,
    QueueTicket,
    RingKind,
    RingOffer,
    TicketStatus,
)
from app.counter.presence import PresenceBook
from app.counter.rings import Rings
from app.counter.rounds import Rounds, waiting_requests
from app.counter.settings import CounterSettings
from scheduler.models import Department, Service, Staff
from scheduler.routing import Presence

log = logging.getLogger(__name__)


class Handovers:
    def __init__(self, session: Session, tz: ZoneInfo, settings: CounterSettings) -> None:
        self.session = session
        self.rounds = Rounds(session, tz, settings)
        self.presence = PresenceBook(session, settings)
        self.rings = Rings(session)

    def request(
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
        routing_lock(self.session)
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
        self.presence.seen(from_staff.id, now)
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
            self.presence.release(from_staff.id, now)
        log.info(
            "room %s: %s %s by staff %s (department %s, staff %s)",
            room_id,
            mode,
            kind.value,
            from_staff.id,
            department_id,
            target_staff_id,
        )
        self.rounds.route(now)
        return request

    def accept(self, staff: Staff, ring_id: int, now: datetime) -> HandoverRequest:
        routing_lock(self.session)
        ring, request = self.rings.open(RingKind.HANDOVER, ring_id, staff.id, now)
        assert isinstance(request, HandoverRequest)
        self.presence.seen(staff.id, now)
        Rings.accept(ring, now)
        request.status = HandoverStatus.ACCEPTED
        request.accepted_by = staff.id
        request.accepted_at = now
        if request.kind == HandoverKind.HANDOVER:
            if request.ticket_id is not None:
                # The walk-in's call is theirs now: rejoin and finish.
                ticket = self.session.get(QueueTicket, request.ticket_id)
                if ticket is not None and ticket.status == TicketStatus.IN_CALL:
                    ticket.staff_id = staff.id
            self.presence.set(staff.id, Presence.IN_CALL, now)
        log.info("staff %s accepted %s request %s", staff.id, request.kind, request.id)
        self.rounds.route(now)
        return request

    def decline(self, staff: Staff, ring_id: int, now: datetime) -> None:
        routing_lock(self.session)
        ring, request = self.rings.open(RingKind.HANDOVER, ring_id, staff.id, now)
        assert isinstance(request, HandoverRequest)
        self.presence.seen(staff.id, now)
        Rings.decline(ring, request, now)
        if request.target_staff_id is not None:
            # The one colleague asked said no: the caller hears it, no re-ring.
            request.status = HandoverStatus.DECLINED
            request.ended_at = now
        log.info("staff %s declined request %s", staff.id, request.id)
        self.rounds.route(now)

    def get(self, request_id: int) -> HandoverRequest | None:
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

    def board(self) -> list[tuple[HandoverRequest, RingOffer | None]]:
        """Hand-over requests still waiting (for the supervisor; call after a round)."""
        ringing = self.rings.ringing_by_subject(RingKind.HANDOVER)
        return [(r, ringing.get(r.id)) for r in waiting_requests(self.session)]
