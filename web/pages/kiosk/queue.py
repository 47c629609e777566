"""The kiosk's walk-in queue: pick a service, get a ticket (受付番号), wait, talk.

``/kiosk/{t}/walk-in`` (``web.pages.kiosk.screen``) lists the services offered at
kiosks as large buttons with pictograms; each posts here. The ticket screen
shows the number, the place in line and the estimated wait, and polls the
queue API (``kiosk-ticket.js``) until a staff member accepts; then the screen
moves to the same call screen as a booked kiosk visit, for the ticket's room.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from app.calls.tickets import CALL_TICKET_TTL, kiosk_participant
from app.core.deps import CtxDep, ReadSession, WriteSession
from app.core.i18n import gettext
from app.core.tokens import Purpose
from app.counter.errors import CounterError
from app.counter.models import TicketStatus
from app.counter.settings import CounterSettings
from app.counter.tickets import Tickets, TicketView
from app.tracker.models import RatingSource
from app.tracker.ratings import rating_url
from scheduler.interpreter_service import languages
from scheduler.interpreters import SIGN_LANGUAGES
from scheduler.models import InterpreterLanguage, Service
from web import csrf
from web.pages.call.pages import RTC_CONFIG_URL, call_messages
from web.pages.kiosk.support import (
    CALL_UNAVAILABLE,
    KioskRoute,
    Screen,
    kiosk_error_page,
    kiosk_page,
    open_screen,
    qr_data_uri,
)
from web.pages.resident.format import moment_label, time_label
from web.pages.staff.format import named

log = logging.getLogger(__name__)
router = APIRouter(route_class=KioskRoute, include_in_schema=False)

# Pictograms (web/static/pictograms/) by words in a department's slug; any
# other department gets the counter pictogram.
PICTOGRAMS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("kosodate", "child", "kodomo", "kyoiku"), "family"),
    (("fukushi", "kenko", "health", "kaigo", "iryo"), "health"),
    (("zei", "tax", "nenkin", "hoken"), "money"),
    (("shimin", "koseki", "juumin", "jumin", "resident"), "document"),
)


def pictogram(service: Service) -> str:
    slug = service.department.slug.lower()
    name = next((p for words, p in PICTOGRAMS if any(w in slug for w in words)), "counter")
    return f"/static/pictograms/{name}.svg"


def service_buttons(screen: Screen, services: list[Service]) -> list[dict[str, str]]:
    return [
        {
            "id": str(s.id),
            "service": named(s, screen.locale),
            "department": named(s.department, screen.locale),
            "pictogram": pictogram(s),
        }
        for s in services
    ]


# Why a ticket was refused, shown on the walk-in screen (the API's codes).
TICKET_PROBLEMS: dict[str, str] = {
    "outside-staffed-hours": (
        "Staff are not available at this time. Please book a time for a consultation."
    ),
    "unknown-interpreter-language": "Interpreting in this language is not offered.",
    "service-not-at-kiosk": "This service is not offered at the kiosk.",
}


def interpreter_choice(
    session: Session, screen: Screen, chosen: str | None, open_now: bool
) -> dict[str, Any]:
    """The walk-in screen's optional interpreter buttons: one per active
    language, named in its own script; a chosen one goes with the ticket."""
    rows = [row for row in languages(session) if row.active] if open_now else []
    codes = {row.code for row in rows}
    selected = chosen if chosen in codes else None
    base = f"{screen.home}/walk-in"
    return {
        "languages": [
            {
                "code": row.code,
                "native": row.label,
                "local": named(row, screen.locale),
                "selected": row.code == selected,
                # Touching the chosen language again takes it back.
                "href": base if row.code == selected else f"{base}?interpreter={row.code}",
            }
            for row in rows
        ],
        "interpreter": selected,
        "interpreter_native": next((r.label for r in rows if r.code == selected), None),
        "no_interpreter_href": base,
    }


def service_booking_url(screen: Screen, service_id: int, interpreter: str | None) -> str:
    """Behind the ticket screen's QR code: booking a time for this service at
    this kiosk (or the city's own booking site, when one is configured)."""
    if screen.settings.booking_url:
        return screen.settings.booking_url
    base = screen.ctx.settings.public_base_url.rstrip("/")
    query = urlencode(
        {"kiosk": screen.kiosk.id, **({"interpreter": interpreter} if interpreter else {})}
    )
    return f"{base}/services/{service_id}?{query}"


def outlook_view(screen: Screen, view: TicketView) -> dict[str, Any]:
    """What the ticket screen says when nobody qualified can answer now: when
    the next one is expected, the phone number, and a QR code to book a time."""
    if view.staffed:
        return {"staffed": True}
    tz = screen.ctx.tz
    expected = view.expected_at
    if expected is None:
        expected_label = None
    elif expected.astimezone(tz).date() == screen.now.astimezone(tz).date():
        expected_label = gettext(screen.locale, "today at {time}", time=time_label(expected, tz))
    else:
        expected_label = gettext(
            screen.locale, "on {moment}", moment=moment_label(expected, tz, screen.locale)
        )
    url = service_booking_url(screen, view.ticket.service_id, view.ticket.interpreter_language)
    return {
        "staffed": False,
        "expected": expected_label,
        "expected_at": expected.isoformat() if expected else "",
        "phone": screen.settings.phone,
        "booking_url": url,
        "booking_qr": qr_data_uri(url),
    }


def _minutes(view: TicketView) -> int | None:
    if view.estimate is None:
        return None
    return max(1, -(-int(view.estimate.total_seconds()) // 60))


@router.post("/kiosk/{token}/walk-in/ticket")
def take_ticket(
    request: Request,
    token: str,
    ctx: CtxDep,
    session: WriteSession,
    service_id: Annotated[int, Form()],
    csrf_token: Annotated[str, Form(max_length=300)] = "",
    interpreter_language: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    screen = open_screen(request, token, ctx, session)
    csrf.verify(request, csrf_token, scope=f"kiosk:{screen.kiosk.id}")
    svc = Tickets(session, ctx.tz, CounterSettings.of(ctx.settings))
    try:
        ticket = svc.take(
            screen.kiosk, service_id, screen.now, interpreter_language=interpreter_language or None
        )
    except CounterError as exc:
        session.rollback()
        log.info("kiosk %s: ticket refused (%s)", screen.kiosk.id, exc.code)
        return RedirectResponse(f"{screen.home}/walk-in?problem={exc.code}", status_code=303)
    session.commit()
    return RedirectResponse(f"{screen.home}/ticket/{ticket.id}", status_code=303)


def _interpreter_label(session: Session, code: str | None) -> str | None:
    row = session.get(InterpreterLanguage, code) if code else None
    return row.label if row else None


@router.get("/kiosk/{token}/ticket/{ticket_id}")
def ticket_page(
    request: Request,
    token: str,
    ticket_id: int,
    ctx: CtxDep,
    session: ReadSession,
    confirm: str | None = None,
) -> Response:
    screen = open_screen(request, token, ctx, session)
    svc = Tickets(session, ctx.tz, CounterSettings.of(ctx.settings))
    try:
        ticket = svc.of_kiosk(screen.kiosk, ticket_id)
    except CounterError:
        return kiosk_error_page(request, CALL_UNAVAILABLE)
    if ticket.status == TicketStatus.IN_CALL:
        return RedirectResponse(f"{screen.home}/ticket/{ticket.id}/call", status_code=303)
    if ticket.status != TicketStatus.WAITING:
        return RedirectResponse(screen.home, status_code=303)
    view = svc.view(ticket, screen.now)
    service = session.get(Service, ticket.service_id)
    assert service is not None
    return kiosk_page(
        request,
        screen,
        "kiosk/ticket.html",
        {
            "number": ticket.number,
            "position": view.position,
            "minutes": _minutes(view),
            **outlook_view(screen, view),
            "service": named(service, screen.locale),
            "department": named(service.department, screen.locale),
            "pictogram": pictogram(service),
            "interpreter": _interpreter_label(session, ticket.interpreter_language),
            "status_url": f"/api/v1/kiosk/{token}/tickets/{ticket.id}",
            "call_url": f"{screen.home}/ticket/{ticket.id}/call",
            "leave_action": f"{screen.home}/ticket/{ticket.id}/leave",
            # 「受付を取り消す」 asks once, on the page, in large type (not window.confirm).
            "confirm_leave": confirm == "leave",
            "ticket_href": f"{screen.home}/ticket/{ticket.id}",
            "csrf_token": csrf.issue(request, scope=f"kiosk:{screen.kiosk.id}"),
            "csrf_field": csrf.FIELD,
        },
        # Waiting is not idling: the ticket stays until the resident leaves.
        idle=False,
    )


@router.post("/kiosk/{token}/ticket/{ticket_id}/leave")
def leave(
    request: Request,
    token: str,
    ticket_id: int,
    ctx: CtxDep,
    session: WriteSession,
    csrf_token: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    screen = open_screen(request, token, ctx, session)
    csrf.verify(request, csrf_token, scope=f"kiosk:{screen.kiosk.id}")
    try:
        Tickets(session, ctx.tz, CounterSettings.of(ctx.settings)).leave(
            screen.kiosk, ticket_id, screen.now
        )
    except CounterError:
        session.rollback()
        return RedirectResponse(f"{screen.home}?lang=ja", status_code=303)
    session.commit()
    return RedirectResponse(f"{screen.home}/ticket/{ticket_id}/left", status_code=303)


@router.get("/kiosk/{token}/ticket/{ticket_id}/left")
def ticket_left(
    request: Request, token: str, ticket_id: int, ctx: CtxDep, session: ReadSession
) -> Response:
    """Says the ticket is cancelled, then (pages/kiosk-left.js) back to the start."""
    screen = open_screen(request, token, ctx, session)
    svc = Tickets(session, ctx.tz, CounterSettings.of(ctx.settings))
    try:
        ticket = svc.of_kiosk(screen.kiosk, ticket_id)
    except CounterError:
        return RedirectResponse(f"{screen.home}?lang=ja", status_code=303)
    if ticket.status != TicketStatus.LEFT:
        return RedirectResponse(f"{screen.home}?lang=ja", status_code=303)
    return kiosk_page(
        request,
        screen,
        "kiosk/ticket_left.html",
        {"number": ticket.number, "return_seconds": screen.settings.return_seconds},
        idle=False,
    )


@router.get("/kiosk/{token}/ticket/{ticket_id}/call")
def ticket_call(
    request: Request, token: str, ticket_id: int, ctx: CtxDep, session: ReadSession
) -> Response:
    """The call screen of an accepted walk-in: the booked kiosk call's page,
    with a kiosk token for the ticket's room."""
    screen = open_screen(request, token, ctx, session)
    svc = Tickets(session, ctx.tz, CounterSettings.of(ctx.settings))
    try:
        ticket = svc.of_kiosk(screen.kiosk, ticket_id)
    except CounterError:
        return kiosk_error_page(request, CALL_UNAVAILABLE)
    if ticket.status != TicketStatus.IN_CALL:
        return kiosk_error_page(request, CALL_UNAVAILABLE)
    service = session.get(Service, ticket.service_id)
    assert service is not None
    join = ctx.tokens.issue(
        Purpose.JOIN,
        {
            "room": ticket.room_id,
            "role": "kiosk",
            "pid": kiosk_participant(screen.kiosk),
            "name": f"受付番号 {ticket.number}",
        },
        expires=screen.now + CALL_TICKET_TTL,
    )
    log.info("kiosk %s: call screen for ticket %s", screen.kiosk.id, ticket.id)
    return kiosk_page(
        request,
        screen,
        "kiosk/call.html",
        {
            "join_token": join,
            "room": ticket.room_id,
            "when": gettext(screen.locale, "Ticket {number}", number=ticket.number),
            "service": named(service, screen.locale),
            "department": named(service.department, screen.locale),
            "messages": call_messages(screen.locale),
            "rtc_config_url": RTC_CONFIG_URL,
            "return_seconds": screen.settings.return_seconds,
            "sign_languages": sorted(SIGN_LANGUAGES),
            "rating_href": rating_url(
                ctx.links, ticket.room_id, RatingSource.KIOSK, screen.now, back=screen.home
            ),
        },
        idle=False,
    )
