"""The kiosk screen: a full-screen, touch-first page on a registered kiosk device.

Start screen (branch, "タッチして始めてください") → what brings you here →
"予約のある方": the booking code on a large keypad, then the call page with a
``kiosk`` join token; "予約のない方": where walk-in help is available and how
to book a time. Outside staffed hours the screens say so. Every page runs
``kiosk.js``: idle reset to the start screen with a visible warning, and a
full-screen button.

The device is identified by an admin-issued signed link ``/kiosk/{token}``
(``Purpose.KIOSK``); ``/admin/kiosks/{id}/open`` gives an administrator a
fresh one. Issue 6 replaces that link with one-time pairing codes.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app.auth.deps import CurrentAdmin
from app.core import abuse
from app.core.deps import CtxDep, ReadSession, WriteSession
from app.core.i18n import gettext
from app.counter.settings import CounterSettings
from app.counter.tickets import Tickets
from app.kiosk.service import CODE_LENGTH, CodeProblem, KioskCodeRefused, Staffed
from scheduler.models import Booking, Kiosk
from scheduler.service import CODE_ALPHABET, CODE_PREFIX
from web import csrf
from web.pages.admin.support import AdminPageRoute, owner_or_404
from web.pages.kiosk import call as kiosk_call
from web.pages.kiosk import queue as kiosk_queue
from web.pages.kiosk.support import (
    KioskRoute,
    Screen,
    kiosk_page,
    kiosk_settings,
    open_screen,
    qr_data_uri,
)
from web.pages.resident.format import (
    branch_address,
    day_label,
    kiosk_label,
    moment_label,
    time_label,
    when_label,
)

log = logging.getLogger(__name__)

FormStr = Annotated[str, Form(max_length=100)]


router = APIRouter(route_class=KioskRoute, include_in_schema=False)
admin_router = APIRouter(route_class=AdminPageRoute, include_in_schema=False)
# Before "/kiosk/{token}": "/kiosk/pair" is a page of its own, not a kiosk link.


def _staffed_view(state: Staffed, screen: Screen) -> dict[str, Any]:
    tz, locale = screen.ctx.tz, screen.locale
    dash = "〜" if locale == "ja" else "–"
    next_open = state.next_open
    if (
        next_open is not None
        and next_open.astimezone(tz).date() == screen.now.astimezone(tz).date()
    ):
        next_label = time_label(next_open, tz)
    elif next_open is not None:
        next_label = moment_label(next_open, tz, locale)
    else:
        next_label = None
    return {
        "open": state.open_now,
        "closes": time_label(state.closes_at, tz) if state.closes_at else None,
        "next": next_label,
        "today": [f"{time_label(r.start, tz)}{dash}{time_label(r.end, tz)}" for r in state.today],
        "today_label": day_label(screen.now.astimezone(tz).date(), locale),
    }


def _booking_url(screen: Screen) -> str:
    """Behind the QR code: booking a time at this very kiosk (or the configured address)."""
    base = screen.ctx.settings.public_base_url.rstrip("/")
    return screen.settings.booking_url or f"{base}/kiosk-booking/{screen.kiosk.id}"


# -- the screens ---------------------------------------------------------------------------------


@router.get("/kiosk/{token}")
def start(request: Request, token: str, ctx: CtxDep, session: ReadSession) -> Response:
    screen = open_screen(request, token, ctx, session)
    hours = _staffed_view(screen.svc.staffed(screen.now), screen)
    # The Japanese start screen is where an idle kiosk rests; in English it
    # goes back to Japanese after a while too.
    return kiosk_page(
        request, screen, "kiosk/start.html", {"hours": hours}, idle=screen.locale != "ja"
    )


@router.get("/kiosk/{token}/menu")
def menu(request: Request, token: str, ctx: CtxDep, session: ReadSession) -> Response:
    screen = open_screen(request, token, ctx, session)
    hours = _staffed_view(screen.svc.staffed(screen.now), screen)
    return kiosk_page(request, screen, "kiosk/menu.html", {"hours": hours})


def _code_page(
    request: Request,
    screen: Screen,
    *,
    typed: str = "",
    problem: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return kiosk_page(
        request,
        screen,
        "kiosk/code.html",
        {
            "action": f"{screen.home}/code",
            "csrf_token": csrf.issue(request, scope=f"kiosk:{screen.kiosk.id}"),
            "csrf_field": csrf.FIELD,
            "prefix": CODE_PREFIX,
            "typed": typed or CODE_PREFIX,
            "keys": list(CODE_ALPHABET),
            "code_length": CODE_LENGTH,
            "problem": problem,
        },
        status_code=status_code,
    )


@router.get("/kiosk/{token}/code")
def code_form(request: Request, token: str, ctx: CtxDep, session: ReadSession) -> Response:
    screen = open_screen(request, token, ctx, session)
    return _code_page(request, screen)


def _problem_view(exc: KioskCodeRefused, screen: Screen) -> dict[str, str]:
    """The message for a refused code, in the screen's language."""
    locale, tz = screen.locale, screen.ctx.tz

    def _(message: str, **params: object) -> str:
        return gettext(locale, message, **params)

    booking: Booking | None = exc.booking
    problem = exc.problem
    hint = ""
    if problem is CodeProblem.MALFORMED:
        text = _("A booking code is MDG- followed by 6 letters and digits. Please check it.")
    elif problem is CodeProblem.UNKNOWN or booking is None:
        text = _("We could not find this booking code at this branch. Please check the code.")
        hint = _(
            "For a video consultation from home, please use the link in your confirmation email."
        )
    elif problem is CodeProblem.CANCELLED:
        text = _("This booking has been cancelled.")
        hint = _("Please touch “I do not have a booking” to see how to get help today.")
    elif problem is CodeProblem.OTHER_DAY:
        text = _(
            "Your booking is for {when}. Please come back on that day.",
            when=when_label(booking.start_at, booking.end_at, tz, locale),
        )
    elif problem is CodeProblem.TOO_EARLY:
        opens = booking.start_at - timedelta(minutes=screen.ctx.settings.join_opens_before_minutes)
        text = _(
            "Your booking starts at {start}. You can start from {opens}. "
            "Please wait a little and try again.",
            start=time_label(booking.start_at, tz),
            opens=time_label(opens, tz),
        )
    else:
        text = _(
            "The time of this booking ({when}) has passed.", when=time_label(booking.start_at, tz)
        )
        hint = _("Please touch “I do not have a booking” to see how to get help today.")
    return {"code": problem.value, "text": text, "hint": hint}


@router.post("/kiosk/{token}/code")
def code_submit(
    request: Request,
    token: str,
    ctx: CtxDep,
    session: WriteSession,
    code: FormStr = "",
    csrf_token: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    screen = open_screen(request, token, ctx, session)
    csrf.verify(request, csrf_token, scope=f"kiosk:{screen.kiosk.id}")
    # Guessing codes at a kiosk: after too many wrong ones it waits a while.
    abuse.kiosk_code_locked(ctx, screen.kiosk.id)
    try:
        booking = screen.svc.booking_for_kiosk(
            screen.kiosk,
            code,
            screen.now,
            opens_before=timedelta(minutes=ctx.settings.join_opens_before_minutes),
            grace_after=timedelta(minutes=ctx.settings.join_grace_after_minutes),
        )
    except KioskCodeRefused as exc:
        abuse.kiosk_code_wrong(ctx, screen.kiosk.id)
        return _code_page(
            request, screen, typed=code, problem=_problem_view(exc, screen), status_code=422
        )
    # The visit joins the counter queue: due at its booked time, before walk-ins,
    # ringing the booked staff member first (anyone qualified if they are busy).
    Tickets(session, ctx.tz, CounterSettings.of(ctx.settings)).enqueue_booking(
        booking, screen.kiosk, screen.now
    )
    session.commit()
    join = ctx.links.join_token(booking, role="kiosk", pid=kiosk_call.participant(screen.kiosk))
    return RedirectResponse(f"{screen.home}/call/{join}", status_code=303)


@router.get("/kiosk/{token}/walk-in")
def walk_in(
    request: Request,
    token: str,
    ctx: CtxDep,
    session: ReadSession,
    interpreter: Annotated[str | None, Query(max_length=20)] = None,
    problem: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    screen = open_screen(request, token, ctx, session)
    hours = _staffed_view(screen.svc.staffed(screen.now), screen)
    url = _booking_url(screen)
    services = Tickets(session, ctx.tz, CounterSettings.of(ctx.settings)).kiosk_services()
    choice = kiosk_queue.interpreter_choice(session, screen, interpreter, hours["open"])
    return kiosk_page(
        request,
        screen,
        "kiosk/walk_in.html",
        {
            "hours": hours,
            # Walk-in queue: one large button per service, while staff are on duty.
            "services": kiosk_queue.service_buttons(screen, services) if hours["open"] else [],
            **choice,
            # Only fixed messages: the URL picks one, it never supplies text.
            "problem": kiosk_queue.TICKET_PROBLEMS.get(problem or ""),
            "ticket_action": f"{screen.home}/walk-in/ticket",
            "csrf_token": csrf.issue(request, scope=f"kiosk:{screen.kiosk.id}"),
            "csrf_field": csrf.FIELD,
            "address": branch_address(screen.kiosk.branch, screen.locale),
            "phone": screen.settings.phone,
            "booking_url": url,
            "booking_qr": qr_data_uri(url),
            "kiosk_label": kiosk_label(screen.kiosk, screen.locale),
        },
    )


# -- for administrators: open a kiosk's screen ------------------------------------------------


def _kiosk(session: Session, kiosk_id: int) -> Kiosk | None:
    return session.get(Kiosk, kiosk_id)


KioskToShow = Annotated[Kiosk, Depends(owner_or_404(_kiosk, kiosk_id=int))]


@admin_router.get("/admin/kiosks/{kiosk_id}/open")
def admin_open(request: Request, admin: CurrentAdmin, kiosk: KioskToShow, ctx: CtxDep) -> Response:
    """A freshly signed kiosk link; open it on the kiosk device and keep it as its start page."""
    expires = ctx.clock.now() + timedelta(days=kiosk_settings(request).link_days)
    token = ctx.links.kiosk_token(kiosk, expires=expires)
    log.info("admin %s opened the screen of kiosk %s", admin.id, kiosk.id)
    # Japanese first whatever the browser's language; the screen offers English.
    return RedirectResponse(f"/kiosk/{token}?lang=ja", status_code=303)
