"""Rings: offers of a waiting ticket or hand-over request to one staff member.

Everything that rings staff goes through here, whatever it is about: a ring
is made by a routing round (``app.counter.rounds``), rings for
``offer_timeout`` and then lapses, and is answered (accepted or declined) by
the one it rings. A decline or a ring-out is remembered on what rang
(``refused_by``/``refused_at``) so the routing core re-offers it elsewhere
first, and to the same person only ``reoffer_after`` later. What differs
between a ticket and a hand-over is what accepting it does, which is theirs
(``app.counter.tickets``, ``app.counter.handover``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.counter.errors import OfferGone
from app.counter.models import (
    HandoverRequest,
    HandoverStatus,
    OfferResult,
    QueueTicket,
    RingKind,
    RingOffer,
    TicketStatus,
)

# What a ring is about; both carry status, queued_at, refused_by, refused_at, escalated_at.
Subject = QueueTicket | HandoverRequest
# The status of a subject that may ring.
WAITING: dict[RingKind, str] = {
    RingKind.TICKET: TicketStatus.WAITING,
    RingKind.HANDOVER: HandoverStatus.WAITING,
}


class Rings:
    def __init__(self, session: Session) -> None:
        self.session = session

    def ringing(
        self, *, kind: RingKind | None = None, staff_id: int | None = None
    ) -> list[RingOffer]:
        stmt = select(RingOffer).where(RingOffer.result == OfferResult.RINGING)
        if kind is not None:
            stmt = stmt.where(RingOffer.kind == kind)
        if staff_id is not None:
            stmt = stmt.where(RingOffer.staff_id == staff_id)
        return list(self.session.scalars(stmt.order_by(RingOffer.id)))

    def ringing_by_subject(self, kind: RingKind) -> dict[int, RingOffer]:
        return {ring.subject_id: ring for ring in self.ringing(kind=kind)}

    def subject(self, ring: RingOffer) -> Subject | None:
        if ring.kind == RingKind.TICKET:
            return self.session.get(QueueTicket, ring.subject_id)
        return self.session.get(HandoverRequest, ring.subject_id)

    def ring(
        self,
        kind: RingKind,
        subject_id: int,
        staff_id: int,
        offered_at: datetime,
        expires_at: datetime,
    ) -> RingOffer:
        ring = RingOffer(
            kind=kind,
            ticket_id=subject_id if kind == RingKind.TICKET else None,
            request_id=subject_id if kind == RingKind.HANDOVER else None,
            staff_id=staff_id,
            offered_at=offered_at,
            expires_at=expires_at,
            result=OfferResult.RINGING,
        )
        self.session.add(ring)
        return ring

    def open(
        self, kind: RingKind, ring_id: int, staff_id: int, now: datetime
    ) -> tuple[RingOffer, Subject]:
        """The ring ``ring_id`` still ringing at this staff member, and what it
        is about, still waiting; else ``OfferGone`` (the caller holds the lock)."""
        ring = self.session.get(RingOffer, ring_id)
        if ring is None or ring.kind != kind or ring.staff_id != staff_id:
            raise OfferGone(str(ring_id))
        if ring.result != OfferResult.RINGING or now >= ring.expires_at:
            raise OfferGone(str(ring_id))
        subject = self.subject(ring)
        if subject is None or subject.status != WAITING[kind]:
            raise OfferGone(str(ring_id))
        return ring, subject

    @staticmethod
    def accept(ring: RingOffer, now: datetime) -> None:
        ring.result = OfferResult.ACCEPTED
        ring.answered_at = now

    @staticmethod
    def decline(ring: RingOffer, subject: Subject, now: datetime) -> None:
        ring.result = OfferResult.DECLINED
        ring.answered_at = now
        refused(subject, ring.staff_id, now)

    @staticmethod
    def lapse(ring: RingOffer) -> None:
        ring.result = OfferResult.LAPSED


def refused(subject: Subject, staff_id: int, now: datetime) -> None:
    """``staff_id`` declined or let it ring out: asked again only after the others."""
    subject.refused_by = [*subject.refused_by, staff_id]
    subject.refused_at = now
