"""Bringing more people into a call: a third participant's link, and hand-over.

``POST /api/v1/staff/bookings/{code}/invite``
    A signed join link for an interpreter or a colleague (role ``interpreter``
    or ``observer``) into the booking's room, valid for the booking's join
    window. It opens the same ``/join/{token}`` page as the resident's link.
``POST /api/v1/staff/bookings/{code}/handover``
    A hand-over link for one colleague (any department: being qualified for the
    service is not required, the staff member handing over vouches for them).
    It opens that colleague's call page for the booking, whose join tickets then
    come from the next endpoint. The signaling ``transfer`` is sent by the page.
``POST /api/v1/staff/handover/{token}/join``
    The colleague's join ticket (from their own logged-in session): a staff
    token, with ``handover: true`` for a warm hand-over so they can join while
    the first staff member is still in the room (docs/signaling.md).

Who may invite or hand over: whoever may join the call (assigned, qualified
or admin), the join ticket's rule.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.schemas import DbId, JoinTicketOut
from app.context import AppContext
from app.deps import CtxDep, CurrentStaff, Forbidden, ReadSchedulingDep
from app.tokens import Purpose, TokenError
from scheduler.errors import BookingCancelled, BookingNotFound, InvalidBookingRequest
from scheduler.orm import Booking, BookingStatus, Staff

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/staff", tags=["calls"])

HANDOVER_LINK_TTL = timedelta(minutes=30)
HANDOVER_TICKET_TTL = timedelta(hours=2)


class InviteIn(BaseModel):
    role: Literal["interpreter", "observer"]
    name: str = Field(min_length=1, max_length=100)


class InviteOut(BaseModel):
    url: str
    role: str
    participant: str
    expires: datetime


class HandoverIn(BaseModel):
    staff_id: DbId
    mode: Literal["warm", "cold"]


class HandoverOut(BaseModel):
    url: str  # the colleague's call page for this booking
    target: str  # their participant id, for the signaling `transfer`
    mode: str
    expires: datetime


def may_join(staff: Staff, booking: Booking) -> bool:
    qualified = any(s.id == booking.service_id for s in staff.skills)
    return booking.staff_id == staff.id or qualified or staff.is_admin


def staff_participant(staff_id: int) -> str:
    return f"staff:{staff_id}"


def _open_booking(svc: ReadSchedulingDep, code: str, staff: Staff) -> Booking:
    booking = svc.booking_by_code(code)
    if not may_join(staff, booking):
        raise Forbidden
    if booking.status != BookingStatus.CONFIRMED:
        raise BookingCancelled(booking.code)
    return booking


@router.post("/bookings/{code}/invite", status_code=201)
def invite(
    code: str, body: InviteIn, staff: CurrentStaff, svc: ReadSchedulingDep, ctx: CtxDep
) -> InviteOut:
    booking = _open_booking(svc, code, staff)
    pid = f"{body.role}:{secrets.token_urlsafe(6)}"
    token = ctx.links.join_token(booking, role=body.role, pid=pid, name=body.name)
    log.info("booking %s: %s invited by staff %s", booking.code, body.role, staff.id)
    return InviteOut(
        url=f"{ctx.links.base_url.rstrip('/')}/join/{token}",
        role=body.role,
        participant=pid,
        expires=booking.end_at + ctx.links.join_grace_after,
    )


@router.post("/bookings/{code}/handover", status_code=201)
def handover(
    code: str, body: HandoverIn, staff: CurrentStaff, svc: ReadSchedulingDep, ctx: CtxDep
) -> HandoverOut:
    booking = _open_booking(svc, code, staff)
    target = svc.session.get(Staff, body.staff_id)
    if target is None or not target.active or target.id == staff.id:
        raise InvalidBookingRequest("unknown staff member", field="staff_id")
    expires = ctx.clock.now() + HANDOVER_LINK_TTL
    token = ctx.tokens.issue(
        Purpose.HANDOVER, {"c": booking.code, "to": target.id, "m": body.mode}, expires=expires
    )
    log.info("booking %s: %s hand-over from staff %s", booking.code, body.mode, staff.id)
    return HandoverOut(
        url=f"{ctx.links.base_url.rstrip('/')}/staff/call/{booking.code}?handover={token}",
        target=staff_participant(target.id),
        mode=body.mode,
        expires=expires,
    )


def handover_claims(ctx: AppContext, token: str, staff: Staff) -> dict[str, Any]:
    """The hand-over token's claims if it is valid and meant for ``staff``."""
    try:
        claims = ctx.tokens.verify(Purpose.HANDOVER, token, now=ctx.clock.now())
    except TokenError:
        raise Forbidden from None
    if claims.get("to") != staff.id or not isinstance(claims.get("c"), str):
        raise Forbidden
    return claims


def handover_booking(session: Session, ctx: AppContext, token: str, staff: Staff) -> Booking:
    claims = handover_claims(ctx, token, staff)
    booking = session.scalar(select(Booking).where(Booking.code == claims["c"]))
    if booking is None:
        raise BookingNotFound(str(claims["c"]))
    return booking


@router.post("/handover/{token}/join")
def handover_ticket(
    token: str, staff: CurrentStaff, svc: ReadSchedulingDep, ctx: CtxDep
) -> JoinTicketOut:
    claims = handover_claims(ctx, token, staff)
    booking = svc.booking_by_code(str(claims["c"]))
    if booking.status != BookingStatus.CONFIRMED:
        raise BookingCancelled(booking.code)
    now = ctx.clock.now()
    expires = now + HANDOVER_TICKET_TTL
    pid = staff_participant(staff.id)
    join_claims: dict[str, Any] = {
        "room": booking.room_id,
        "role": "staff",
        "pid": pid,
        "name": staff.display_name,
    }
    if claims.get("m") == "warm":
        join_claims["handover"] = True
    return JoinTicketOut(
        room=booking.room_id,
        role="staff",
        participant=pid,
        token=ctx.tokens.issue(Purpose.JOIN, join_claims, expires=expires),
        signaling_url=ctx.settings.signaling_url(),
        expires=expires,
    )
