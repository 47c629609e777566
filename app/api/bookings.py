"""Resident bookings: create, view, cancel, reschedule, .ics (by signed link)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.api.schemas import BookingCreate, BookingOut, RescheduleIn
from app.bookings_view import booking_ics, booking_out
from app.context import AppContext
from app.deps import CtxDep, LocaleDep, ReadSchedulingDep, SchedulingDep
from app.notify import Notifier
from app.tokens import Purpose, TokenInvalid
from scheduler.orm import Booking
from scheduler.service import BookingRequest, SchedulingService

router = APIRouter(prefix="/api/v1/bookings", tags=["booking"])

CONFLICT = {"description": "The slot was taken (or never free)", "model": dict}


def booking_from_token(svc: SchedulingService, ctx: AppContext, token: str) -> Booking:
    claims = ctx.links.verify(Purpose.MANAGE, token, ctx.clock.now())
    booking = svc.booking(int(claims["b"]))
    if booking.code != claims.get("c"):
        raise TokenInvalid("booking mismatch")
    return booking


def place_booking(
    body: BookingCreate, svc: SchedulingService, ctx: AppContext, *, booked_by: int | None = None
) -> Booking:
    """Book, queue the confirmation mail and commit: one unit of work."""
    booking = svc.book(
        BookingRequest(
            service_id=body.service_id,
            start=body.start,
            channel=body.channel,
            name=body.name,
            email=body.email,
            phone=body.phone,
            locale=body.locale,
            kiosk_id=body.kiosk_id,
            booked_by_staff_id=booked_by,
            interpreter_language=body.interpreter_language,
        ),
        ctx.clock.now(),
    )
    Notifier(svc.session, ctx).booking_confirmed(booking)
    svc.session.commit()
    return booking


@router.post("", status_code=201, responses={409: CONFLICT})
def create_booking(
    body: BookingCreate, svc: SchedulingDep, ctx: CtxDep, locale: LocaleDep
) -> BookingOut:
    return booking_out(place_booking(body, svc, ctx), ctx.links, ctx.tz, locale)


@router.get("/{token}")
def get_booking(token: str, svc: ReadSchedulingDep, ctx: CtxDep, locale: LocaleDep) -> BookingOut:
    return booking_out(booking_from_token(svc, ctx, token), ctx.links, ctx.tz, locale)


@router.post("/{token}/cancel", responses={409: CONFLICT})
def cancel_booking(token: str, svc: SchedulingDep, ctx: CtxDep, locale: LocaleDep) -> BookingOut:
    booking = booking_from_token(svc, ctx, token)
    now = ctx.clock.now()
    svc.cancel(booking, now)
    notifier = Notifier(svc.session, ctx)
    notifier.booking_cancelled(booking)
    notifier.waitlist_offers(svc.new_offers)
    svc.session.commit()
    return booking_out(booking, ctx.links, ctx.tz, locale)


@router.post("/{token}/reschedule", responses={409: CONFLICT})
def reschedule_booking(
    token: str, body: RescheduleIn, svc: SchedulingDep, ctx: CtxDep, locale: LocaleDep
) -> BookingOut:
    booking = booking_from_token(svc, ctx, token)
    now = ctx.clock.now()
    svc.reschedule(booking, body.start, now)
    notifier = Notifier(svc.session, ctx)
    notifier.booking_rescheduled(booking)
    notifier.waitlist_offers(svc.new_offers)
    svc.session.commit()
    return booking_out(booking, ctx.links, ctx.tz, locale)


@router.get(
    "/{token}/booking.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
def booking_calendar_file(token: str, svc: ReadSchedulingDep, ctx: CtxDep) -> Response:
    booking = booking_from_token(svc, ctx, token)
    return Response(
        booking_ics(booking, ctx.links, ctx.tz),
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{booking.code}.ics"'},
    )
