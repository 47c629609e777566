"""Resident booking pages: department → service → day → time → details → done.

No account: a resident books with a name and an email address, and the
signed manage link (``/manage/{token}``, see ``resident_manage``) is their
key afterwards. Every page is server-rendered and works without JavaScript.
Routes stay thin: ``SchedulingService`` owns the queries and the rules, and
each POST commits once.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from starlette.responses import RedirectResponse, Response

from app.booking.deps import ReadSchedulingDep, SchedulingDep
from app.booking.notify import Notifier
from app.core import abuse
from app.core.context import AppContext
from app.core.deps import CtxDep
from app.core.i18n import LOCALES, gettext
from app.line import login as line_login
from app.line.links import link as line_link
from app.line.models import LinkVia
from app.rush import queue as rush_queue
from app.rush.errors import AdmissionUsed
from scheduler.errors import InvalidBookingRequest, SlotUnavailable
from scheduler.interpreter_service import languages
from scheduler.models import Department, InterpreterLanguage, Kiosk, Service
from scheduler.service import BookingRequest, SchedulingService
from scheduler.types import Channel
from web import csrf
from web.pages.resident import rush
from web.pages.resident.format import (
    day_label,
    department_description,
    department_name,
    kiosk_label,
    service_channels,
    service_description,
    service_name,
    when_label,
)
from web.pages.resident.support import (
    NOT_FOUND,
    ContactForm,
    FieldError,
    ResidentRoute,
    carry,
    chosen_interpreter,
    chosen_kiosk,
    contact_form,
    default_channel,
    error_page,
    last_bookable_day,
    nearest_slots,
    overview,
    page,
    parse_day,
    parse_start,
    request_locale,
    time_choices,
    today,
)

log = logging.getLogger(__name__)

router = APIRouter(route_class=ResidentRoute, include_in_schema=False)

# How many days one page of the day list shows.
DAYS_PER_PAGE = 14

FormStr = Annotated[str, Form()]


def _service_view(service: Service, locale: str) -> dict[str, Any]:
    return {
        "id": service.id,
        "name": service_name(service, locale),
        "description": service_description(service, locale),
        "duration": service.duration_min,
        "channels": [c.value for c in service_channels(service)],
        "department": department_name(service.department, locale),
        "department_slug": service.department.slug,
    }


def _active_kiosks(svc: SchedulingService) -> list[Kiosk]:
    return list(
        svc.session.scalars(
            select(Kiosk)
            .where(Kiosk.active.is_(True))
            .options(selectinload(Kiosk.branch))
            .order_by(Kiosk.branch_id, Kiosk.id)
        )
    )


# -- choose a department and a service ----------------------------------------------


@router.get("/kiosk-booking/{kiosk_id}")
def kiosk_services(request: Request, kiosk_id: int, svc: ReadSchedulingDep) -> Response:
    """Services to book a time at one branch kiosk: behind the QR code a kiosk shows
    outside staffed hours and to visitors without a booking."""
    locale = request_locale(request)
    kiosk = svc.session.get(Kiosk, kiosk_id)
    if kiosk is None or not kiosk.active:
        return error_page(request, NOT_FOUND)
    services = [
        _service_view(s, locale)
        for d in svc.departments()
        for s in d.services
        if s.active and Channel.KIOSK in service_channels(s)
    ]
    return page(
        request,
        "resident/kiosk_services.html",
        {
            "kiosk": kiosk_label(kiosk, locale),
            "kiosk_id": kiosk.id,
            "services": services,
            "step": 1,
        },
    )


@router.get("/")
def start(request: Request, svc: ReadSchedulingDep) -> Response:
    locale = request_locale(request)
    departments = [
        {
            "slug": d.slug,
            "name": department_name(d, locale),
            "description": department_description(d, locale),
        }
        for d in svc.departments()
        if any(s.active for s in d.services)
    ]
    return page(request, "resident/start.html", {"departments": departments, "step": 1})


@router.get("/departments/{slug}")
def department(request: Request, slug: str, svc: ReadSchedulingDep) -> Response:
    locale = request_locale(request)
    found: Department | None = next((d for d in svc.departments() if d.slug == slug), None)
    if found is None:
        return error_page(request, NOT_FOUND)
    services = [_service_view(s, locale) for s in found.services if s.active]
    return page(
        request,
        "resident/department.html",
        {
            "department": {
                "name": department_name(found, locale),
                "description": department_description(found, locale),
            },
            "services": services,
            "step": 1,
        },
    )


# -- days and times -------------------------------------------------------------------


@router.get("/services/{service_id}")
def service_days(
    request: Request,
    service_id: int,
    svc: ReadSchedulingDep,
    ctx: CtxDep,
    first: Annotated[str | None, Query(alias="from")] = None,
) -> Response:
    locale = request_locale(request)
    service = svc.get_service(service_id)
    if isinstance(turn := rush.gate(request, ctx, svc.session, service), Response):
        return turn
    now = ctx.clock.now()
    first_day = today(now, ctx.tz)
    horizon = last_bookable_day(service, now, ctx.tz)
    wanted = parse_day(first) if first else None
    start_day = min(max(wanted or first_day, first_day), horizon)
    last_day = min(start_day + timedelta(days=DAYS_PER_PAGE - 1), horizon)
    language = chosen_interpreter(request, svc)
    kiosk = chosen_kiosk(request, svc, service)
    _, days = overview(
        svc,
        service,
        start_day,
        last_day,
        Channel.KIOSK if kiosk else default_channel(service),
        now,
        locale,
        kiosk_id=kiosk.id if kiosk else None,
        interpreter_language=language.code if language else None,
    )
    prev_day = max(start_day - timedelta(days=DAYS_PER_PAGE), first_day)
    extra = carry(language, kiosk)
    return page(
        request,
        "resident/service_days.html",
        {
            "service": _service_view(service, locale),
            "days": [d for d in days if d.open],
            "day_href": f"/services/{service.id}/day/",
            "extra": extra,
            "languages": [
                {"code": lang.code, "name": lang.name_ja if locale == "ja" else lang.name_en}
                for lang in languages(svc.session)
            ],
            "interpreter": language.code if language else "",
            "kiosk": {"id": kiosk.id, "label": kiosk_label(kiosk, locale)} if kiosk else None,
            "prev_href": (
                f"/services/{service.id}?from={prev_day.isoformat()}{extra}"
                if start_day > first_day
                else None
            ),
            "next_href": (
                f"/services/{service.id}?from={(last_day + timedelta(days=1)).isoformat()}{extra}"
                if last_day < horizon
                else None
            ),
            "range_label": f"{day_label(start_day, locale)} – {day_label(last_day, locale)}",
            "step": 2,
        },
    )


def _day_page(
    request: Request,
    svc: SchedulingService,
    ctx: AppContext,
    service: Service,
    day: date,
    *,
    form: ContactForm | None = None,
    errors: list[FieldError] | None = None,
    waitlisted: bool = False,
    status_code: int = 200,
) -> Response:
    locale = request_locale(request)
    now = ctx.clock.now()
    bookable = today(now, ctx.tz) <= day <= last_bookable_day(service, now, ctx.tz)
    language = chosen_interpreter(request, svc)
    kiosk = chosen_kiosk(request, svc, service)
    slots, days = (
        overview(
            svc,
            service,
            day,
            day,
            Channel.KIOSK if kiosk else default_channel(service),
            now,
            locale,
            kiosk_id=kiosk.id if kiosk else None,
            interpreter_language=language.code if language else None,
        )
        if bookable
        else ([], [])
    )
    extra = carry(language, kiosk)
    is_open = bool(days and days[0].open)
    closed = bool(days and days[0].closed)
    choices = time_choices(slots, ctx.tz)
    return page(
        request,
        "resident/day.html",
        {
            "service": _service_view(service, locale),
            "day": day.isoformat(),
            "day_label": day_label(day, locale),
            "bookable": bookable,
            "is_open": is_open,
            "morning": [c for c in choices if not c.afternoon],
            "afternoon": [c for c in choices if c.afternoon],
            "mode": "book",
            "book_href": f"/services/{service.id}/book",
            "extra": extra,
            "back_href": f"/services/{service.id}?from={day.isoformat()}{extra}",
            "closed": closed,
            "waitlist": bookable and bool(days) and days[0].full,
            "waitlisted": waitlisted,
            "form": form or ContactForm(mail_locale=locale),
            "errors": errors or [],
            "step": 3,
        },
        status_code=status_code,
    )


@router.get("/services/{service_id}/day/{day}")
def service_day(
    request: Request,
    service_id: int,
    day: str,
    svc: ReadSchedulingDep,
    ctx: CtxDep,
    waitlisted: str | None = None,
) -> Response:
    service = svc.get_service(service_id)
    if isinstance(turn := rush.gate(request, ctx, svc.session, service), Response):
        return turn
    parsed = parse_day(day)
    if parsed is None:
        return error_page(request, NOT_FOUND)
    return _day_page(request, svc, ctx, service, parsed, waitlisted=waitlisted == "1")


# -- the booking form ---------------------------------------------------------------------


def _line_context(
    request: Request, ctx: AppContext, service: Service, start: Any
) -> dict[str, Any]:
    """Whether this browser signed in with LINE, else where LINE Login starts (if set up)."""
    linked = line_login.line_user(ctx, request.cookies.get(line_login.USER_COOKIE), ctx.clock.now())
    href = None
    if linked is None and line_login.relying_party(ctx) is not None:
        back = f"/services/{service.id}/book?" + urlencode({"start": start.isoformat()})
        href = "/line/login?" + urlencode({"next": back})
    return {"line_linked": linked is not None, "line_login_href": href}


def _book_page(
    request: Request,
    svc: SchedulingService,
    ctx: AppContext,
    service: Service,
    start: Any,
    *,
    form: ContactForm | None = None,
    channel: str = "",
    kiosk_id: str = "",
    errors: list[FieldError] | None = None,
    taken: bool = False,
    status_code: int = 200,
    language: InterpreterLanguage | None = None,
    kiosk_row: Kiosk | None = None,
) -> Response:
    locale = request_locale(request)
    now = ctx.clock.now()
    channels = service_channels(service)
    chosen = Channel(channel) if channel in {c.value for c in channels} else channels[0]
    alternatives = []
    if taken:
        kiosk = int(kiosk_id) if kiosk_id.isdigit() else None
        alternatives = time_choices(
            nearest_slots(
                svc,
                service,
                start,
                chosen,
                now,
                kiosk_id=kiosk if chosen is Channel.KIOSK else None,
            ),
            ctx.tz,
        )
    duration = timedelta(minutes=service.duration_min)
    return page(
        request,
        "resident/book.html",
        {
            "service": _service_view(service, locale),
            "start_iso": start.astimezone(ctx.tz).isoformat(),
            "when": when_label(start, start + duration, ctx.tz, locale),
            "day_href": f"/services/{service.id}/day/{start.astimezone(ctx.tz).date().isoformat()}"
            + ("?" + carry(language, kiosk_row)[1:] if language or kiosk_row else ""),
            "taken": taken,
            "alternatives": [
                {
                    "iso": c.iso,
                    "label": when_label(c.start, c.start + duration, ctx.tz, locale),
                }
                for c in alternatives
            ],
            "channels": [c.value for c in channels],
            "channel": chosen.value,
            "kiosks": [
                {"id": k.id, "label": kiosk_label(k, locale)}
                for k in (_active_kiosks(svc) if Channel.KIOSK in channels else [])
            ],
            "kiosk_id": kiosk_id,
            "interpreter": (
                {
                    "code": language.code,
                    "name": language.name_ja if locale == "ja" else language.name_en,
                }
                if language is not None
                else None
            ),
            "form": form or ContactForm(mail_locale=locale),
            "errors": errors or [],
            "action": f"/services/{service.id}/book",
            "step": 4,
            **_line_context(request, ctx, service, start),
        },
        status_code=status_code,
    )


@router.get("/services/{service_id}/book")
def book_form(
    request: Request,
    service_id: int,
    svc: ReadSchedulingDep,
    ctx: CtxDep,
    start: str | None = None,
) -> Response:
    service = svc.get_service(service_id)
    if isinstance(turn := rush.gate(request, ctx, svc.session, service), Response):
        return turn
    wanted = parse_start(start, ctx.tz)
    if wanted is None:
        # The language switch links to "?lang=xx", which drops the chosen time:
        # send them back to choose it, in the language they just picked.
        lang = request.query_params.get("lang")
        query = f"?lang={lang}" if lang in LOCALES else ""
        return RedirectResponse(f"/services/{service.id}{query}", status_code=303)
    local_day = wanted.astimezone(ctx.tz).date()
    now = ctx.clock.now()
    language = chosen_interpreter(request, svc)
    kiosk = chosen_kiosk(request, svc, service)
    slots, _ = overview(
        svc,
        service,
        local_day,
        local_day,
        Channel.KIOSK if kiosk else default_channel(service),
        now,
        request_locale(request),
        kiosk_id=kiosk.id if kiosk else None,
        interpreter_language=language.code if language else None,
    )
    free = any(s.start == wanted for s in slots)
    return _book_page(
        request,
        svc,
        ctx,
        service,
        wanted,
        # From a kiosk's QR code: that kiosk is chosen already.
        channel=Channel.KIOSK.value if kiosk else "",
        kiosk_id=str(kiosk.id) if kiosk else "",
        taken=not free,
        status_code=200 if free else 409,
        language=language,
        kiosk_row=kiosk,
    )


@router.post("/services/{service_id}/book", dependencies=[Depends(csrf.require)])
def book_submit(
    request: Request,
    service_id: int,
    svc: SchedulingDep,
    ctx: CtxDep,
    start: FormStr = "",
    name: FormStr = "",
    email: FormStr = "",
    phone: FormStr = "",
    channel: FormStr = "",
    kiosk_id: FormStr = "",
    mail_locale: FormStr = "",
    interpreter: FormStr = "",
) -> Response:
    locale = request_locale(request)
    abuse.check_booking(ctx, request, email)
    service = svc.get_service(service_id)
    turn = rush.gate(request, ctx, svc.session, service)
    if isinstance(turn, Response):
        return turn
    language = chosen_interpreter(request, svc, interpreter)
    wanted = parse_start(start, ctx.tz)
    if wanted is None:
        return RedirectResponse(f"/services/{service.id}", status_code=303)
    form = contact_form(name, email, phone, mail_locale)
    errors = form.validate(locale)
    channels = service_channels(service)
    chosen: Channel | None = channels[0] if len(channels) == 1 else None
    if chosen is None:
        if channel in {c.value for c in channels}:
            chosen = Channel(channel)
        else:
            errors.append(
                FieldError("channel-online", gettext(locale, "Please choose how to talk with us."))
            )
    kiosk: int | None = None
    if chosen is Channel.KIOSK:
        kiosk = int(kiosk_id) if kiosk_id.isdigit() else None
        if kiosk is None or kiosk not in {k.id for k in _active_kiosks(svc)}:
            errors.append(
                FieldError("kiosk_id", gettext(locale, "Please choose the kiosk you will use."))
            )

    def again(errs: list[FieldError], *, taken: bool = False, status: int = 422) -> Response:
        return _book_page(
            request,
            svc,
            ctx,
            service,
            wanted,
            form=form,
            channel=chosen.value if chosen else channel,
            kiosk_id=kiosk_id,
            errors=errs,
            taken=taken,
            status_code=status,
            language=language,
        )

    if errors:
        return again(errors)
    assert chosen is not None
    try:
        booking = svc.book(
            BookingRequest(
                service_id=service.id,
                start=wanted,
                channel=chosen,
                name=form.name,
                email=form.email,
                phone=form.phone or None,
                locale=form.mail_locale,
                kiosk_id=kiosk,
                interpreter_language=language.code if language is not None else None,
            ),
            ctx.clock.now(),
        )
    except SlotUnavailable:
        return again([], taken=True, status=409)
    except InvalidBookingRequest as exc:
        field = {"kiosk_id": "kiosk_id", "channel": "channel-online"}.get(exc.field or "", "name")
        return again([FieldError(field, gettext(locale, str(exc)))])
    if turn is not None:
        try:
            rush_queue.consume(svc.session, service.id, turn, booking.id)
        except AdmissionUsed:
            svc.session.rollback()
            return RedirectResponse(f"/rush/{service.id}?m=used", status_code=303)
    Notifier(svc.session, ctx).booking_confirmed(booking)
    line_user = line_login.line_user(
        ctx, request.cookies.get(line_login.USER_COOKIE), ctx.clock.now()
    )
    if line_user is not None:
        # Booked inside LINE after LINE Login: the notices go to that account too.
        line_link(svc.session, line_user, ctx.clock.now(), booking_id=booking.id, via=LinkVia.LOGIN)
    svc.session.commit()
    return RedirectResponse(f"/manage/{ctx.links.manage_token(booking)}?new=1", status_code=303)


# -- waiting list ---------------------------------------------------------------------------


@router.get("/waitlist")
def waitlist_form(
    request: Request,
    svc: ReadSchedulingDep,
    service: int | None = None,
    day: str | None = None,
) -> Response:
    # The form lives on the full day's page; this address only leads there.
    if service is not None and day and parse_day(day) is not None:
        return RedirectResponse(f"/services/{svc.get_service(service).id}/day/{day}", 303)
    return RedirectResponse("/", status_code=303)


@router.post("/waitlist", dependencies=[Depends(csrf.require)])
def waitlist_join(
    request: Request,
    svc: SchedulingDep,
    ctx: CtxDep,
    service_id: FormStr = "",
    day: FormStr = "",
    name: FormStr = "",
    email: FormStr = "",
    phone: FormStr = "",
    mail_locale: FormStr = "",
) -> Response:
    locale = request_locale(request)
    abuse.check_booking(ctx, request, email)
    parsed = parse_day(day)
    if not service_id.isdigit() or parsed is None:
        return error_page(request, NOT_FOUND)
    service = svc.get_service(int(service_id))
    form = contact_form(name, email, phone, mail_locale)
    errors = form.validate(locale)
    if not errors:
        try:
            entry = svc.join_waitlist(
                service.id,
                parsed,
                form.name,
                form.email,
                ctx.clock.now(),
                phone=form.phone or None,
                locale=form.mail_locale,
                channel=default_channel(service),
            )
        except InvalidBookingRequest as exc:
            message = {
                "already on the waiting list": (
                    "You are already on the waiting list for this day with this email address."
                ),
                "that day has passed": "That day has passed. Please choose another day.",
                "bookings for that day have closed": (
                    "Bookings for this day have closed (bookings must be made in advance)."
                    " Please choose another day."
                ),
            }.get(str(exc), str(exc))
            errors.append(FieldError("email", gettext(locale, message)))
        else:
            line_user = line_login.line_user(
                ctx, request.cookies.get(line_login.USER_COOKIE), ctx.clock.now()
            )
            if line_user is not None:
                # Signed in with LINE: the offer comes there too, claimed with a button.
                line_link(
                    svc.session,
                    line_user,
                    ctx.clock.now(),
                    waitlist_entry_id=entry.id,
                    via=LinkVia.LOGIN,
                )
            svc.session.commit()
            log.info("waitlist entry %s joined from the resident pages", entry.id)
            return RedirectResponse(
                f"/services/{service.id}/day/{parsed.isoformat()}?waitlisted=1", status_code=303
            )
    return _day_page(request, svc, ctx, service, parsed, form=form, errors=errors, status_code=422)
