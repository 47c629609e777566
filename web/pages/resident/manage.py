"""Pages behind a resident's signed links: the booking (view, cancel, change
time) at ``/manage/{token}`` and a waiting-list offer at
``/waitlist/offers/{token}``.

The token is the resident's only key, so every page verifies it first; an
expired or tampered one becomes an error page through ``ResidentRoute``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from app.booking.access import booking_from_token
from app.booking.deps import ReadSchedulingDep, SchedulingDep
from app.booking.notify import Notifier
from app.core.context import AppContext
from app.core.deps import CtxDep
from app.core.tokens import Purpose
from scheduler.errors import BookingCancelled, ChangeWindowClosed, SlotUnavailable
from scheduler.models import Booking, BookingStatus, Service, WaitlistEntry, WaitlistStatus
from scheduler.service import SchedulingService
from scheduler.types import Channel
from web import csrf
from web.pages.resident.format import (
    day_label,
    department_name,
    kiosk_label,
    moment_label,
    opening_hours,
    service_name,
    when_label,
)
from web.pages.resident.support import (
    NOT_FOUND,
    ResidentRoute,
    error_page,
    last_bookable_day,
    overview,
    page,
    parse_day,
    parse_start,
    request_locale,
    time_choices,
    today,
)

router = APIRouter(route_class=ResidentRoute, include_in_schema=False)

DAYS_PER_PAGE = 14
FormStr = Annotated[str, Form()]


def _path(url: str) -> str:
    # Links inside the site stay relative so they work whatever host served the page.
    return urlsplit(url).path


def _cutoff(booking: Booking) -> datetime:
    return booking.start_at - timedelta(minutes=booking.service.change_cutoff_min)


def _booking_view(booking: Booking, ctx: AppContext, locale: str) -> dict[str, Any]:
    now = ctx.clock.now()
    service = booking.service
    cancelled = booking.status == BookingStatus.CANCELLED
    ended = now >= booking.end_at
    changeable = not cancelled and now <= _cutoff(booking)
    token = ctx.links.manage_token(booking)
    return {
        "code": booking.code,
        "when": when_label(booking.start_at, booking.end_at, ctx.tz, locale),
        "department": department_name(service.department, locale),
        "service": service_name(service, locale),
        "service_id": service.id,
        "online": booking.channel == Channel.ONLINE,
        "kiosk": kiosk_label(booking.kiosk, locale) if booking.kiosk is not None else None,
        "name": booking.resident_name,
        "email": booking.resident_email,
        "cancelled": cancelled,
        "ended": ended,
        "changeable": changeable,
        "closed": not cancelled and not ended and not changeable,
        "cutoff": moment_label(_cutoff(booking), ctx.tz, locale),
        "hours": opening_hours(service.department, locale),
        "join_url": ctx.links.join_url(booking),
        "join_opens": ctx.settings.join_opens_before_minutes,
        "manage_url": ctx.links.manage_url(booking),
        "manage_href": f"/manage/{token}",
        "ics_href": _path(ctx.links.ics_url(booking)),
        "cancel_href": f"/manage/{token}/cancel",
        "change_href": f"/manage/{token}/change",
    }


def _manage_page(
    request: Request,
    booking: Booking,
    ctx: AppContext,
    *,
    new: bool = False,
    done: str | None = None,
    status_code: int = 200,
) -> Response:
    locale = request_locale(request)
    return page(
        request,
        "resident/manage.html",
        {
            "booking": _booking_view(booking, ctx, locale),
            "new": new,
            "done": done if done in ("cancelled", "changed") else None,
            "step": 5 if new else None,
        },
        status_code=status_code,
    )


@router.get("/manage/{token}")
def manage(
    request: Request,
    token: str,
    svc: ReadSchedulingDep,
    ctx: CtxDep,
    new: str | None = None,
    done: str | None = None,
) -> Response:
    booking = booking_from_token(svc, ctx, token)
    return _manage_page(request, booking, ctx, new=new == "1", done=done)


# -- cancel --------------------------------------------------------------------------


@router.get("/manage/{token}/cancel")
def cancel_confirm(request: Request, token: str, svc: ReadSchedulingDep, ctx: CtxDep) -> Response:
    booking = booking_from_token(svc, ctx, token)
    view = _booking_view(booking, ctx, request_locale(request))
    if not view["changeable"]:
        # The booking page explains why (cancelled already, or too late).
        return RedirectResponse(view["manage_href"], status_code=303)
    return page(request, "resident/cancel.html", {"booking": view})


@router.post("/manage/{token}/cancel", dependencies=[Depends(csrf.require)])
def cancel(request: Request, token: str, svc: SchedulingDep, ctx: CtxDep) -> Response:
    booking = booking_from_token(svc, ctx, token)
    try:
        svc.cancel(booking, ctx.clock.now())
    except ChangeWindowClosed:
        return _manage_page(request, booking, ctx, status_code=409)
    except BookingCancelled:
        return RedirectResponse(f"/manage/{token}", status_code=303)
    notifier = Notifier(svc.session, ctx)
    notifier.booking_cancelled(booking)
    notifier.waitlist_offers(svc.new_offers)
    svc.session.commit()
    return RedirectResponse(f"/manage/{token}?done=cancelled", status_code=303)


# -- change the time ---------------------------------------------------------------------


def _channel_args(booking: Booking) -> tuple[Channel, int | None]:
    return Channel(booking.channel), booking.kiosk_id


@router.get("/manage/{token}/change")
def change_days(
    request: Request,
    token: str,
    svc: ReadSchedulingDep,
    ctx: CtxDep,
    first: Annotated[str | None, Query(alias="from")] = None,
) -> Response:
    locale = request_locale(request)
    booking = booking_from_token(svc, ctx, token)
    view = _booking_view(booking, ctx, locale)
    if not view["changeable"]:
        return RedirectResponse(view["manage_href"], status_code=303)
    service = booking.service
    now = ctx.clock.now()
    first_day = today(now, ctx.tz)
    horizon = last_bookable_day(service, now, ctx.tz)
    wanted = parse_day(first) if first else None
    start_day = min(max(wanted or first_day, first_day), horizon)
    last_day = min(start_day + timedelta(days=DAYS_PER_PAGE - 1), horizon)
    channel, kiosk_id = _channel_args(booking)
    _, days = overview(
        svc,
        service,
        start_day,
        last_day,
        channel,
        now,
        locale,
        kiosk_id=kiosk_id,
        ignore_booking_id=booking.id,
    )
    base = view["change_href"]
    prev_day = max(start_day - timedelta(days=DAYS_PER_PAGE), first_day)
    return page(
        request,
        "resident/change_days.html",
        {
            "booking": view,
            # A full day cannot be waitlisted from here: only days with times count,
            # and days closed by the notice rule, said as on the booking pages.
            "days": [d for d in days if d.free or d.closed],
            "day_href": base + "/",
            "prev_href": f"{base}?from={prev_day.isoformat()}" if start_day > first_day else None,
            "next_href": (
                f"{base}?from={(last_day + timedelta(days=1)).isoformat()}"
                if last_day < horizon
                else None
            ),
            "range_label": f"{day_label(start_day, locale)} – {day_label(last_day, locale)}",
        },
    )


def _change_day_page(
    request: Request,
    svc: SchedulingService,
    ctx: AppContext,
    booking: Booking,
    day: date,
    *,
    taken: bool = False,
    status_code: int = 200,
) -> Response:
    locale = request_locale(request)
    view = _booking_view(booking, ctx, locale)
    service: Service = booking.service
    now = ctx.clock.now()
    bookable = today(now, ctx.tz) <= day <= last_bookable_day(service, now, ctx.tz)
    channel, kiosk_id = _channel_args(booking)
    slots = (
        overview(
            svc,
            service,
            day,
            day,
            channel,
            now,
            locale,
            kiosk_id=kiosk_id,
            ignore_booking_id=booking.id,
        )[0]
        if bookable
        else []
    )
    choices = [c for c in time_choices(slots, ctx.tz) if c.start != booking.start_at]
    return page(
        request,
        "resident/change_day.html",
        {
            "booking": view,
            "day_label": day_label(day, locale),
            "morning": [c for c in choices if not c.afternoon],
            "afternoon": [c for c in choices if c.afternoon],
            "action": view["change_href"],
            "back_href": f"{view['change_href']}?from={day.isoformat()}",
            "taken": taken,
        },
        status_code=status_code,
    )


@router.get("/manage/{token}/change/{day}")
def change_day(
    request: Request, token: str, day: str, svc: ReadSchedulingDep, ctx: CtxDep
) -> Response:
    booking = booking_from_token(svc, ctx, token)
    parsed = parse_day(day)
    if parsed is None:
        return error_page(request, NOT_FOUND)
    view = _booking_view(booking, ctx, request_locale(request))
    if not view["changeable"]:
        return RedirectResponse(view["manage_href"], status_code=303)
    return _change_day_page(request, svc, ctx, booking, parsed)


@router.post("/manage/{token}/change", dependencies=[Depends(csrf.require)])
def change(
    request: Request, token: str, svc: SchedulingDep, ctx: CtxDep, start: FormStr = ""
) -> Response:
    booking = booking_from_token(svc, ctx, token)
    wanted = parse_start(start, ctx.tz)
    if wanted is None:
        return RedirectResponse(f"/manage/{token}/change", status_code=303)
    try:
        svc.reschedule(booking, wanted, ctx.clock.now())
    except SlotUnavailable:
        svc.session.rollback()
        day = wanted.astimezone(ctx.tz).date()
        return _change_day_page(request, svc, ctx, booking, day, taken=True, status_code=409)
    except (ChangeWindowClosed, BookingCancelled):
        svc.session.rollback()
        return _manage_page(request, booking, ctx, status_code=409)
    notifier = Notifier(svc.session, ctx)
    notifier.booking_rescheduled(booking)
    notifier.waitlist_offers(svc.new_offers)
    svc.session.commit()
    # A fresh token: its expiry follows the new time.
    return RedirectResponse(
        f"/manage/{ctx.links.manage_token(booking)}?done=changed", status_code=303
    )


# -- waiting-list offers ---------------------------------------------------------------------


def _offer_page(
    request: Request,
    svc: SchedulingService,
    ctx: AppContext,
    token: str,
    *,
    status_code: int = 200,
) -> Response:
    locale = request_locale(request)
    now = ctx.clock.now()
    claims = ctx.links.verify(Purpose.WAITLIST_OFFER, token, now)
    entry = svc.session.get(WaitlistEntry, int(claims["w"]))
    if entry is None or entry.offered_start is None or entry.offer_expires_at is None:
        return error_page(request, NOT_FOUND)
    service = svc.session.get(Service, entry.service_id)
    assert service is not None
    start = entry.offered_start
    end = start + timedelta(minutes=service.duration_min)
    if entry.status == WaitlistStatus.BOOKED and entry.booking_id is not None:
        state = "booked"
    elif entry.status == WaitlistStatus.OFFERED and now < entry.offer_expires_at:
        state = "open"
    else:
        state = "gone"
    manage_href = None
    if state == "booked" and entry.booking_id is not None:
        manage_href = f"/manage/{ctx.links.manage_token(svc.booking(entry.booking_id))}"
    return page(
        request,
        "resident/offer.html",
        {
            "state": state,
            "when": when_label(start, end, ctx.tz, locale),
            "until": moment_label(entry.offer_expires_at, ctx.tz, locale),
            "service": service_name(service, locale),
            "department": department_name(service.department, locale),
            "service_href": f"/services/{service.id}",
            "manage_href": manage_href,
            "action": f"/waitlist/offers/{token}",
            "failed": status_code == 409 and state == "open",
        },
        status_code=status_code,
    )


@router.get("/waitlist/offers/{token}")
def offer(request: Request, token: str, svc: ReadSchedulingDep, ctx: CtxDep) -> Response:
    return _offer_page(request, svc, ctx, token)


@router.post("/waitlist/offers/{token}", dependencies=[Depends(csrf.require)])
def claim(request: Request, token: str, svc: SchedulingDep, ctx: CtxDep) -> Response:
    now = ctx.clock.now()
    claims = ctx.links.verify(Purpose.WAITLIST_OFFER, token, now)
    try:
        booking = svc.claim_offer(int(claims["w"]), now)
    except SlotUnavailable:
        svc.session.rollback()
        return _offer_page(request, svc, ctx, token, status_code=409)
    Notifier(svc.session, ctx).booking_confirmed(booking)
    svc.session.commit()
    return RedirectResponse(f"/manage/{ctx.links.manage_token(booking)}?new=1", status_code=303)
