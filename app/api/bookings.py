"""Resident bookings: create, view, cancel, reschedule, .ics (by signed link)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response

from app.api.schemas import BookingCreate, BookingOut, RescheduleIn, booking_out
from app.booking.access import booking_from_token
from app.booking.deps import ReadSchedulingDep, SchedulingDep
from app.booking.notify import Notifier
from app.booking.views import booking_ics
from app.core import idempotency
from app.core.abuse import check_booking, limit_token_requests
from app.core.context import AppContext
from app.core.deps import CtxDep, LocaleDep
from app.core.idempotency import request_hash
from app.ops.metrics import BOOKINGS
from app.rush import queue as rush_queue
from scheduler.errors import InvalidBookingRequest
from scheduler.models import Booking
from scheduler.service import BookingRequest, SchedulingService

router = APIRouter(prefix="/api/v1/bookings", tags=["booking"])

TOKEN_LIMIT = Depends(limit_token_requests)
CONFLICT = {"description": "The slot was taken (or never free)", "model": dict}
QUEUE_FIRST = {
    "description": "A rush service without a valid `X-Rush-Admission`: take a place in the "
    "queue (`Link` header, `Retry-After` seconds); also any other rate limit",
    "model": dict,
}


def rush_admission(
    body: BookingCreate, svc: SchedulingService, ctx: AppContext, admission: str | None
) -> int | None:
    """The admitted queue number a rush service's booking spends (None: not a rush service)."""
    service = svc.get_service(body.service_id)
    if not service.rush:
        return None
    return rush_queue.check_admission(
        svc.session, ctx.tokens, service.id, admission, ctx.clock.now()
    )


def place_booking(
    body: BookingCreate,
    svc: SchedulingService,
    ctx: AppContext,
    *,
    booked_by: int | None = None,
    idempotency_key: str | None = None,
    rush_number: int | None = None,
) -> Booking:
    """Book, queue the confirmation mail and commit: one unit of work.

    ``rush_number``: the admitted queue number this booking spends (rush services).
    """
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
    if rush_number is not None:
        rush_queue.consume(svc.session, booking.service_id, rush_number, booking.id)
    Notifier(svc.session, ctx).booking_confirmed(booking)
    if idempotency_key is not None:
        idempotency.record(svc.session, idempotency_key, booking.id)
    svc.session.commit()
    BOOKINGS.labels(booking.channel).inc()
    return booking


@router.post("", status_code=201, responses={409: CONFLICT, 429: QUEUE_FIRST})
def create_booking(
    body: BookingCreate,
    request: Request,
    svc: SchedulingDep,
    ctx: CtxDep,
    locale: LocaleDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=8,
            max_length=100,
            description="Retry-safe: a repeated request with the same key returns the "
            "booking the first one made instead of booking again.",
        ),
    ] = None,
    x_rush_admission: Annotated[
        str | None,
        Header(
            max_length=500,
            description="For a rush service: the admission from its queue "
            "(`/api/v1/rush`), valid for one booking.",
        ),
    ] = None,
) -> BookingOut:
    if idempotency_key is None:
        number = rush_admission(body, svc, ctx, x_rush_admission)
        check_booking(ctx, request, body.email)
        booking = place_booking(body, svc, ctx, rush_number=number)
        return booking_out(booking, ctx.links, ctx.tz, locale)
    digest = request_hash(body.model_dump_json().encode())
    try:
        earlier_id = idempotency.reserve(svc.session, idempotency_key, digest, ctx.clock.now())
    except idempotency.KeyReused as exc:
        raise InvalidBookingRequest(str(exc), "Idempotency-Key") from exc
    earlier = svc.session.get(Booking, earlier_id) if earlier_id is not None else None
    if earlier is not None:
        # A retry of a request that booked: it books nothing, so it is not counted.
        return booking_out(earlier, ctx.links, ctx.tz, locale)
    number = rush_admission(body, svc, ctx, x_rush_admission)
    check_booking(ctx, request, body.email)
    booking = place_booking(body, svc, ctx, idempotency_key=idempotency_key, rush_number=number)
    return booking_out(booking, ctx.links, ctx.tz, locale)


@router.get("/{token}", dependencies=[TOKEN_LIMIT])
def get_booking(token: str, svc: ReadSchedulingDep, ctx: CtxDep, locale: LocaleDep) -> BookingOut:
    return booking_out(booking_from_token(svc, ctx, token), ctx.links, ctx.tz, locale)


@router.post("/{token}/cancel", responses={409: CONFLICT}, dependencies=[TOKEN_LIMIT])
def cancel_booking(token: str, svc: SchedulingDep, ctx: CtxDep, locale: LocaleDep) -> BookingOut:
    booking = booking_from_token(svc, ctx, token)
    now = ctx.clock.now()
    svc.cancel(booking, now)
    notifier = Notifier(svc.session, ctx)
    notifier.booking_cancelled(booking)
    notifier.waitlist_offers(svc.new_offers)
    svc.session.commit()
    return booking_out(booking, ctx.links, ctx.tz, locale)


@router.post("/{token}/reschedule", responses={409: CONFLICT}, dependencies=[TOKEN_LIMIT])
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
    dependencies=[TOKEN_LIMIT],
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
