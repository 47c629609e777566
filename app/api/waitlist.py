"""Waiting list: join for a day; claim an offered slot by signed link."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from app.api.schemas import BookingOut, WaitlistCreate, WaitlistOut, booking_out
from app.booking.deps import SchedulingDep
from app.booking.notify import Notifier
from app.core.abuse import check_booking, limit_token_requests
from app.core.deps import CtxDep, LocaleDep
from app.core.tokens import Purpose

router = APIRouter(prefix="/api/v1/waitlist", tags=["booking"])


@router.post("", status_code=201)
def join_waitlist(
    body: WaitlistCreate, request: Request, svc: SchedulingDep, ctx: CtxDep
) -> WaitlistOut:
    check_booking(ctx, request, body.email)
    entry = svc.join_waitlist(
        body.service_id,
        body.day,
        body.name,
        body.email,
        ctx.clock.now(),
        phone=body.phone,
        locale=body.locale,
        channel=body.channel,
    )
    svc.session.commit()
    return WaitlistOut(id=entry.id, service_id=entry.service_id, day=entry.day, status=entry.status)


@router.post(
    "/offers/{token}/claim",
    status_code=201,
    responses={409: {"model": dict}},
    dependencies=[Depends(limit_token_requests)],
)
def claim_offer(token: str, svc: SchedulingDep, ctx: CtxDep, locale: LocaleDep) -> BookingOut:
    now = ctx.clock.now()
    claims = ctx.links.verify(Purpose.WAITLIST_OFFER, token, now)
    booking = svc.claim_offer(int(claims["w"]), now)
    Notifier(svc.session, ctx).booking_confirmed(booking)
    svc.session.commit()
    return booking_out(booking, ctx.links, ctx.tz, locale)
