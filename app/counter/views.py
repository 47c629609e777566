"""What staff consoles are shown of a hand-over or invite offer (JSON for
the API and the live stream)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.core.i18n import gettext
from app.counter.models import HandoverKind, HandoverRequest, QueueTicket, RingOffer
from scheduler.models import Booking, Department, Kiosk, Service, Staff


class HandoverOfferOut(BaseModel):
    """A ringing hand-over (or invitation) from a colleague in a call."""

    id: int
    kind: str  # handover / invite
    mode: str  # warm / cold
    from_staff: str
    department: str | None
    service: str | None
    context: str  # the notes so far
    room: str
    booking_code: str | None
    ticket_id: int | None
    expires_at: datetime
    text: str


def _name(row: Department | Service | None, locale: str) -> str | None:
    if row is None:
        return None
    return row.name_en if locale == "en" else row.name_ja


def handover_offer_out(session: Session, offer: RingOffer, locale: str) -> HandoverOfferOut:
    request = session.get(HandoverRequest, offer.subject_id)
    assert request is not None
    first = session.get(Staff, request.from_staff_id)
    who = first.display_name if first else ""
    department = _name(
        session.get(Department, request.department_id) if request.department_id else None, locale
    )
    service = _name(
        session.get(Service, request.service_id) if request.service_id else None, locale
    )
    booking = session.get(Booking, request.booking_id) if request.booking_id else None
    ticket = session.get(QueueTicket, request.ticket_id) if request.ticket_id else None
    if request.kind == HandoverKind.INVITE:
        text = gettext(locale, "{name} invites you into a call", name=who)
    elif department is not None:
        text = gettext(
            locale,
            "Hand-over from {name} to {department}",
            name=who,
            department=" ".join(x for x in (department, service) if x),
        )
    else:
        text = gettext(locale, "Hand-over from {name} to you", name=who)
    if ticket is not None:
        text += " " + gettext(locale, "(ticket {number})", number=ticket.number)
    return HandoverOfferOut(
        id=offer.id,
        kind=request.kind,
        mode=request.mode,
        from_staff=who,
        department=department,
        service=service,
        context=request.context,
        room=request.room_id,
        booking_code=booking.code if booking else None,
        ticket_id=request.ticket_id,
        expires_at=offer.expires_at,
        text=text,
    )


def ticket_place(session: Session, ticket: QueueTicket, locale: str) -> tuple[str, str]:
    """Where a walk-in is: the kiosk's and its branch's names, in English
    where the city gave English forms (a kiosk without one keeps its name)."""
    kiosk = session.get(Kiosk, ticket.kiosk_id)
    if kiosk is None:
        return "", ""
    english = locale == "en"
    name = kiosk.name_en if english and kiosk.name_en else kiosk.name
    branch = kiosk.branch.name_en if english else kiosk.branch.name_ja
    return name, branch


def department_slug(session: Session, req: HandoverRequest) -> str | None:
    dept = session.get(Department, req.department_id) if req.department_id else None
    return dept.slug if dept else None
