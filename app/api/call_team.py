"""Bringing more people into a call: a third participant's link, and hand-over.

``POST /api/v1/staff/bookings/{code}/invite``
    A signed join link for an interpreter or a colleague (role ``interpreter``
    or ``observer``) into the booking's room, valid for the booking's join
    window. It opens the same ``/join/{token}`` page as the resident's link.
    With ``staff_id`` (role ``observer``), the colleague is also rung in their
    counter console (``app.counter.handover``), the link staying as a fallback.
``POST /api/v1/staff/counter/tickets/{ticket_id}/invite``
    The same for a walk-in call, by the staff member holding the ticket: the
    link is valid while the walk-in's room can be joined, and the colleague
    who accepts the ring gets an observer's seat in the walk-in's room.
``POST /api/v1/staff/bookings/{code}/handover``
    To a department (``department_id``, optionally ``service_id``): a hand-over
    request routed like a walk-in, to that department's qualified staff, who
    are rung in their counter consoles; whoever accepts gets a join ticket for
    the same room (``app.api.counter.accept_handover``). To one colleague
    (``staff_id``, any department: being qualified for the service is not
    required, the staff member handing over vouches for them): a ring in that
    colleague's console, plus a hand-over link as a fallback, which opens their
    call page for the booking, whose join tickets then come from the next
    endpoint. The signaling ``transfer`` is sent by the page.
``POST /api/v1/staff/handover/{token}/join``
    The colleague's join ticket (from their own logged-in session): a staff
    token, with ``handover: true`` for a warm hand-over so they can join while
    the first staff member is still in the room (docs/signaling.md).

Who may invite or hand over a booked call: whoever may join the call
(assigned, qualified or admin: ``app.auth.scope``). A walk-in call: the
staff member holding its ticket.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from app.api.schemas import DbId
from app.auth.deps import CurrentStaff
from app.auth.errors import Forbidden
from app.auth.scope import StaffScope
from app.booking.deps import ReadSchedulingDep, SchedulingDep
from app.calls.consultations import Consultations
from app.calls.team import handover_claims
from app.calls.tickets import CALL_TICKET_TTL, JoinTicketOut, call_ticket
from app.core.context import AppContext
from app.core.deps import CtxDep, WriteSession
from app.core.params import IdPath
from app.core.tokens import Purpose
from app.counter.errors import InvalidHandover, TicketNotFound
from app.counter.handover import Handovers
from app.counter.models import HandoverKind, QueueTicket
from app.counter.settings import CounterSettings
from app.counter.tickets import Tickets
from app.counter.views import department_slug
from scheduler.errors import BookingCancelled, InvalidBookingRequest
from scheduler.models import Booking, BookingStatus, Staff

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/staff", tags=["calls"])

HANDOVER_LINK_TTL = timedelta(minutes=30)


class InviteIn(BaseModel):
    role: Literal["interpreter", "observer"]
    name: str = Field(min_length=1, max_length=100)
    # A colleague to ring in their console (role observer).
    staff_id: DbId | None = None


class InviteOut(BaseModel):
    url: str
    role: str
    participant: str
    expires: datetime
    request_id: int | None = None  # when a colleague is rung


class HandoverIn(BaseModel):
    mode: Literal["warm", "cold"]
    # One of the two: a named colleague, or a department (and optionally a service).
    staff_id: DbId | None = None
    department_id: DbId | None = None
    service_id: DbId | None = None
    note: str = Field(default="", max_length=2000)


class HandoverOut(BaseModel):
    url: str | None  # the named colleague's call page (fallback to the ring)
    target: str | None  # their participant id, for the signaling `transfer`
    department: str | None  # the department's slug, for the signaling `transfer`
    mode: str
    expires: datetime
    request_id: int


def may_join(staff: Staff, booking: Booking) -> bool:
    return StaffScope.of(staff).covers_booking(booking)


def staff_participant(staff_id: int) -> str:
    return f"staff:{staff_id}"


def _open_booking(svc: ReadSchedulingDep, code: str, staff: Staff) -> Booking:
    booking = svc.booking_by_code(code)
    if not may_join(staff, booking):
        raise Forbidden
    if booking.status != BookingStatus.CONFIRMED:
        raise BookingCancelled(booking.code)
    return booking


def _context(session: Session, booking: Booking, note: str) -> str:
    """What the colleague sees with the ring: the note, then the notes so far."""
    record = Consultations(session).for_booking(booking.id)
    return "\n\n".join(x for x in (note.strip(), record.notes.strip() if record else "") if x)


def _handovers(ctx: AppContext, session: Session) -> Handovers:
    return Handovers(session, ctx.tz, CounterSettings.of(ctx.settings))


def issue_invite(
    ctx: AppContext,
    session: Session,
    staff: Staff,
    body: InviteIn,
    *,
    room_id: str,
    booking: Booking | None = None,
    ticket_id: int | None = None,
) -> InviteOut:
    """The invitation of both call pages: a join link for the room and, for a
    named colleague, a ring in their console. A booked call's link keeps to
    the booking's join window; a walk-in's lasts as long as the room's other
    tokens (the join page refuses it once the walk-in's call is over)."""
    pid = f"{body.role}:{secrets.token_urlsafe(6)}"
    if booking is not None:
        token = ctx.links.join_token(booking, role=body.role, pid=pid, name=body.name)
        expires = booking.end_at + ctx.links.join_grace_after
    else:
        expires = ctx.clock.now() + CALL_TICKET_TTL
        token = ctx.links.room_join_token(
            room_id, role=body.role, pid=pid, name=body.name, expires=expires
        )
    request_id = None
    if body.staff_id is not None:
        if body.role != "observer":
            raise InvalidBookingRequest("only a colleague is rung", field="staff_id")
        try:
            ring = _handovers(ctx, session).request(
                staff,
                room_id=room_id,
                booking_id=booking.id if booking is not None else None,
                ticket_id=ticket_id,
                kind=HandoverKind.INVITE,
                mode="warm",
                target_staff_id=body.staff_id,
                context=_context(session, booking, "") if booking is not None else "",
                now=ctx.clock.now(),
            )
        except InvalidHandover:
            raise InvalidBookingRequest("unknown staff member", field="staff_id") from None
        request_id = ring.id
    session.commit()
    log.info("room %s: %s invited by staff %s", room_id, body.role, staff.id)
    return InviteOut(
        url=f"{ctx.links.base_url.rstrip('/')}/join/{token}",
        role=body.role,
        participant=pid,
        expires=expires,
        request_id=request_id,
    )


@router.post("/bookings/{code}/invite", status_code=201)
def invite(
    code: str,
    body: InviteIn,
    staff: CurrentStaff,
    svc: SchedulingDep,
    ctx: CtxDep,
) -> InviteOut:
    booking = _open_booking(svc, code, staff)
    return issue_invite(ctx, svc.session, staff, body, room_id=booking.room_id, booking=booking)


@router.post(
    "/counter/tickets/{ticket_id}/invite",
    status_code=201,
    tags=["counter"],
    responses={403: {"model": dict}, 404: {"model": dict}, 409: {"model": dict}},
)
def invite_walk_in(
    ticket_id: IdPath,
    body: InviteIn,
    staff: CurrentStaff,
    ctx: CtxDep,
    session: WriteSession,
) -> InviteOut:
    """Invite an interpreter or a colleague into a walk-in call; only the staff
    member holding the ticket may (a colleague's walk-in is not theirs to open)."""
    ticket = session.get(QueueTicket, ticket_id)
    if ticket is None:
        raise TicketNotFound(str(ticket_id))
    if ticket.staff_id != staff.id:
        raise Forbidden
    ticket = Tickets(session, ctx.tz, CounterSettings.of(ctx.settings)).in_call_for(
        staff, ticket.id
    )
    return issue_invite(ctx, session, staff, body, room_id=ticket.room_id, ticket_id=ticket.id)


@router.post("/bookings/{code}/handover", status_code=201)
def handover(
    code: str,
    body: HandoverIn,
    staff: CurrentStaff,
    svc: SchedulingDep,
    ctx: CtxDep,
) -> HandoverOut:
    booking = _open_booking(svc, code, staff)
    now = ctx.clock.now()
    if (body.staff_id is None) == (body.department_id is None):
        raise InvalidBookingRequest("a colleague or a department", field="staff_id")
    try:
        ring = _handovers(ctx, svc.session).request(
            staff,
            room_id=booking.room_id,
            booking_id=booking.id,
            mode=body.mode,
            department_id=body.department_id,
            service_id=body.service_id,
            target_staff_id=body.staff_id,
            context=_context(svc.session, booking, body.note),
            now=now,
        )
    except InvalidHandover as exc:
        field = "staff_id" if body.staff_id is not None else "department_id"
        raise InvalidBookingRequest(str(exc), field=field) from None
    expires = now + HANDOVER_LINK_TTL
    url = target = None
    if body.staff_id is not None:
        token = ctx.tokens.issue(
            Purpose.HANDOVER,
            {"c": booking.code, "to": body.staff_id, "m": body.mode},
            expires=expires,
        )
        url = f"{ctx.links.base_url.rstrip('/')}/staff/call/{booking.code}?handover={token}"
        target = staff_participant(body.staff_id)
    out = HandoverOut(
        url=url,
        target=target,
        department=department_slug(svc.session, ring),
        mode=body.mode,
        expires=expires,
        request_id=ring.id,
    )
    svc.session.commit()
    log.info("booking %s: %s hand-over from staff %s", booking.code, body.mode, staff.id)
    return out


@router.post("/handover/{token}/join")
def handover_ticket(
    token: str, staff: CurrentStaff, svc: ReadSchedulingDep, ctx: CtxDep
) -> JoinTicketOut:
    claims = handover_claims(ctx, token, staff)
    booking = svc.booking_by_code(str(claims["c"]))
    if booking.status != BookingStatus.CONFIRMED:
        raise BookingCancelled(booking.code)
    pid = staff_participant(staff.id)
    warm = claims.get("m") == "warm"
    return call_ticket(ctx, booking.room_id, "staff", pid, staff.display_name, handover=warm)
