"""The video call pages: a resident's join page and the staff member's call page.

``/join/{token}``
    Opened from the signed join link (``app.core.links.Links.join_url``). The token
    is checked here first, so a resident who is early, late, holds a broken
    link or a cancelled booking gets a page saying what happened and what to
    do. A valid link renders the page whose JS (``web/static/js/call/``) walks
    through camera and microphone, the pre-call check, the waiting room and
    the call itself. An early link still offers the device check.
``/staff/call/{code}``
    Logged-in staff (the join ticket's rule: assigned, qualified or admin).
    The page's JS fetches a staff join ticket from
    ``POST /api/v1/staff/bookings/{code}/join`` (again on every reconnect, so
    a long call never outlives its token), joins the room, autosaves notes
    through the console's notes endpoint and, when the call ends, posts the
    outcome to ``/staff/call/{code}/finish``, then opens the call's wrap-up
    (``/staff/call/{code}/wrapup``, ``web/pages/staff/records.py``). An ended
    call's page keeps only the way to its wrap-up.

Routes stay thin: records are written by ``app.calls.consultations``, call states
come from ``app.calls.staff_queue``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.deps import CurrentStaff
from app.auth.errors import Forbidden
from app.calls.consultations import ConsultationError, Consultations
from app.calls.staff_queue import STATE_LABELS, CallState, QueueReader, call_state
from app.calls.team import handover_booking
from app.core.context import AppContext
from app.core.deps import CtxDep, ReadSession, WriteSession
from app.core.i18n import gettext
from app.core.tokens import Purpose, TokenError, TokenExpired, TokenNotYetValid
from app.counter.models import QueueTicket, TicketStatus
from app.tracker.models import RatingSource
from app.tracker.ratings import rating_url
from scheduler.errors import BookingNotFound
from scheduler.interpreters import SIGN_LANGUAGES
from scheduler.models import Booking, BookingStatus, Department, Service
from web.pages.resident.format import moment_label, when_label
from web.pages.staff.auth import StaffPageRoute, console_page, verify_staff_csrf
from web.pages.staff.console import OUTCOME_LABELS, visible_booking
from web.pages.staff.format import named
from web.pages.staff.handover_form import handover_choices
from web.pages.staff.interpreter import interpreter_panel
from web.pages.staff.records import wrapup_redirect
from web.templating import page_locale, render

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
staff_router = APIRouter(route_class=StaffPageRoute, include_in_schema=False)

# Roles a join link may carry on this page (kiosks have their own): the
# resident, the interpreter booked with the consultation, and a third
# participant invited from the console (app/api/call_team.py).
RESIDENT_ROLES = frozenset({"resident", "interpreter", "observer"})

RTC_CONFIG_URL = "/api/v1/rtc-config"
PRECHECK_URL = "/api/v1/precheck"


def _no_store(response: Response) -> Response:
    # The page carries a personal link: keep it out of every cache.
    response.headers["Cache-Control"] = "no-store"
    return response


# -- texts the call scripts show (message ids; translated per request) -----------

CALL_MESSAGES: dict[str, str] = {
    # devices
    "device.asking": "Please allow the camera and microphone in the box your browser shows.",
    "device.ready": "Your camera and microphone are ready.",
    "device.audio-only": "No camera was found. You can still talk with sound only.",
    "device.blocked": "The camera or microphone is blocked.",
    "device.missing": "No camera or microphone was found.",
    "device.busy": "The camera or microphone is being used by another app.",
    "device.unsupported": "This browser cannot make video calls.",
    "device.failed": "The camera or microphone could not be started.",
    # pre-call check
    "check.measuring": "Checking…",
    "check.pass": "No problem",
    "check.fail": "Needs attention",
    "check.passed": "Everything works. You are ready for the consultation.",
    "check.failed": "Some items did not pass. See the advice below each item.",
    "check.busy": "The check is busy right now. Please try again in a minute.",
    "check.error": "The check could not be completed. You can still join the consultation.",
    "check.camera-ok": "Your camera works.",
    "check.camera-missing": (
        "No camera picture was sent. Check that the camera is connected and allowed."
    ),
    "check.camera-no-frames": (
        "The camera sent no picture. Close other apps that use the camera, then check again."
    ),
    "check.camera-low-frame-rate": (
        "The picture is slow. Close other apps, or move closer to your Wi-Fi router."
    ),
    "check.microphone-ok": "Your microphone works.",
    "check.microphone-missing": (
        "No sound was sent. Check that the microphone is connected and allowed."
    ),
    "check.microphone-no-audio": "The microphone sent no sound. Check that it is not switched off.",
    "check.microphone-silent": (
        "We could not hear you. Say something during the check, or check the microphone's volume."
    ),
    "check.network-ok": "Your connection is good.",
    "check.network-ok-unmeasured": "Your connection works.",
    "check.network-no-connection": (
        "No connection could be made. Check your internet connection, or try another network."
    ),
    "check.network-packet-loss": (
        "The connection is unstable. Move closer to your Wi-Fi router, or use another network."
    ),
    "check.network-slow": (
        "The connection is slow. Close other apps that use the internet, or try another network."
    ),
    # how the check and the call connect (web/static/js/call/path.js)
    "check.path-direct": "Your device connects directly.",
    "check.path-relay-only": (
        "Only the relay server could be reached: this network blocks direct connections. "
        "Calls work through the relay server."
    ),
    "check.network-ask": (
        "On an office or branch network, ask its network team to allow HTTPS (TCP 443) to "
        "{host}, and {ports} to the relay server {turn}."
    ),
    "check.network-ask-no-relay": (
        "On an office or branch network, ask its network team to allow HTTPS (TCP 443) to {host}."
    ),
    "path.direct": "Connected directly.",
    "path.relay": "Connected through the relay server ({protocol}).",
    # waiting room and call
    "wait.connecting": "Connecting to the waiting room…",
    "wait.waiting": "Staff will join shortly.",
    "wait.staff-left": "The staff member has left for a moment. Please wait.",
    "staff.handover-ready": "Send this link to your colleague. The resident has been told to wait.",
    "staff.invite-ready": "Send this link to the person you invite.",
    "staff.invite-rung": (
        "Your colleague is being called in their console. You can also send them this link."
    ),
    "staff.handover-rung": (
        "Your colleague is being called in their console. The resident has been told to wait."
    ),
    "staff.handover-requested": (
        "The department's staff are being called. The resident has been told to wait."
    ),
    "staff.handover-choose": "Choose a department or a colleague.",
    "staff.link-failed": "The link could not be created. Please try again.",
    "staff.photo-asked": "The resident is asked on their screen.",
    "staff.photo-granted": "The resident agreed. You can take the photo.",
    "staff.photo-refused": "The resident did not agree to a photo.",
    "staff.photo-saved": "The photo was saved with this consultation.",
    "staff.document-shown": "The document is shown on the resident's screen.",
    "staff.upload-failed": "The file could not be sent. Please try again.",
    "call.transfer": (
        "You are being handed over to another staff member. Please stay on this screen."
    ),
    "call.connecting": "Staff have joined. Connecting…",
    "call.connected": "You are connected.",
    "call.peer-reconnecting": (
        "The other person's connection dropped. Waiting for them to come back…"
    ),
    "call.peer-back": "The other person is back.",
    "call.restarting": "Restoring the connection…",
    "quality.good": "Connection: good",
    "quality.fair": "Connection: somewhat unstable",
    "quality.poor": "Connection: unstable",
    "quality.unknown": "Connection: checking",
    "net.reconnecting": "The connection was lost. Reconnecting…",
    "net.offline": (
        "You are not connected to the internet. Check your Wi-Fi or mobile data. We will "
        "reconnect automatically."
    ),
    "net.failed": "The connection to the server failed. Please reload this page.",
    "fatal.token-expired": "This link has expired: the time of the consultation has passed.",
    "fatal.token-not-yet-valid": "This link cannot be used yet.",
    "fatal.token-invalid": "This link is not valid.",
    "fatal.room-full": "Someone is already in this consultation with this link.",
    "fatal.room-ended": "This consultation has already ended.",
    "fatal.replaced": "This consultation was opened in another window or device.",
    "fatal.other": "The call could not continue.",
    "ended.by-staff": "The consultation has ended. Thank you.",
    "ended.left": "You have left the call.",
    "layout.signer-larger": "Show the sign-language interpreter larger",
    "layout.staff-larger": "Show the staff member larger",
    "layout.signer-large": "Shown larger: the sign-language interpreter",
    "layout.staff-large": "Shown larger: the staff member",
    # staff
    "staff.ticket-failed": "You could not join the room. Reload the page and try again.",
    "staff.resident-waiting": "The resident is waiting.",
    "staff.resident-joined": "The resident is in the call.",
    "staff.resident-reconnecting": "The resident's connection dropped. Waiting for them…",
    "staff.resident-left": "The resident has left.",
    "staff.resident-absent": "The resident has not joined yet.",
    "staff.ending": "Ending the call…",
    "staff.finished": "The call has ended and the outcome was recorded.",
    "staff.call-ended": "The call has ended. Record the outcome if you have not done so yet.",
    "staff.finish-failed": "The outcome could not be saved. Please try again.",
    "staff.choose-outcome": "Choose an outcome first.",
    "notes.saving": "Saving…",
    "notes.saved": "Saved at {time}.",
    "notes.failed": "The notes could not be saved. Please try again.",
}


def call_messages(locale: str) -> dict[str, str]:
    return {key: gettext(locale, message) for key, message in CALL_MESSAGES.items()}


# -- the resident's join page --------------------------------------------------------


def _room_ended(session: Session, ctx: AppContext, room: str) -> bool:
    events = QueueReader(session, ctx.tz).events([room])[room]
    return any(e.kind == "call-end" for e in events)


def _join_error(
    request: Request, kind: str, status: int, context: dict[str, Any] | None = None
) -> Response:
    values: dict[str, Any] = {"kind": kind}
    values.update(context or {})
    return _no_store(render(request, "call/join_problem.html", values, status_code=status))


def _rating_href(ctx: AppContext, claims: dict[str, Any], room: str) -> str | None:
    """Only the resident's own page offers to rate the call."""
    if claims.get("role") != "resident":
        return None
    return rating_url(ctx.links, room, RatingSource.HOME, ctx.clock.now())


def _booking_for(session: Session, claims: dict[str, Any]) -> Booking | None:
    room = claims.get("room")
    if not isinstance(room, str) or claims.get("role") not in RESIDENT_ROLES:
        return None
    return session.scalar(select(Booking).where(Booking.room_id == room))


# A walk-in call's third participants: an interpreter called on demand
# (app.counter.interpreters) or invited, and an invited colleague (app/api/call_team.py).
WALK_IN_ROLES = frozenset({"interpreter", "observer"})


def _walk_in_for(session: Session, claims: dict[str, Any]) -> QueueTicket | None:
    room = claims.get("room")
    if not isinstance(room, str) or claims.get("role") not in WALK_IN_ROLES:
        return None
    return session.scalar(select(QueueTicket).where(QueueTicket.room_id == room))


def _walk_in_join(
    request: Request,
    session: Session,
    ctx: AppContext,
    token: str,
    claims: dict[str, Any],
    ticket: QueueTicket,
) -> Response:
    locale = page_locale(request)
    when = gettext(locale, "Ticket {number}", number=ticket.number)
    if ticket.status in (TicketStatus.DONE, TicketStatus.LEFT) or _room_ended(
        session, ctx, ticket.room_id
    ):
        return _join_error(request, "ended", 410, {"when": when})
    service = session.get(Service, ticket.service_id)
    assert service is not None
    response = render(
        request,
        "call/join.html",
        {
            "token": token,
            "room": ticket.room_id,
            "participant": claims.get("pid", ""),
            "role": claims["role"],
            "when": when,
            "service": named(service, locale),
            "department": named(service.department, locale),
            "early": False,
            "opens_at": "",
            "messages": call_messages(locale),
            "rtc_config_url": f"{RTC_CONFIG_URL}?token={token}",
            "precheck_url": PRECHECK_URL,
        },
    )
    log.info("join page opened by an %s for walk-in room %s", claims["role"], ticket.room_id)
    return _no_store(response)


@router.get("/join/{token}")
def join_page(token: str, request: Request, session: ReadSession, ctx: CtxDep) -> Response:
    locale = page_locale(request)
    now = ctx.clock.now()
    opens_at: datetime | None = None
    try:
        claims = ctx.tokens.verify(Purpose.JOIN, token, now=now)
    except TokenNotYetValid as exc:
        opens_at = exc.opens_at
        # The signature is good; read the claims as of the moment it opens.
        claims = ctx.tokens.verify(Purpose.JOIN, token, now=exc.opens_at)
    except TokenExpired:
        return _join_error(request, "expired", 410)
    except TokenError:
        log.info("join page: invalid link")
        return _join_error(request, "invalid", 403)
    booking = _booking_for(session, claims)
    if booking is None:
        ticket = _walk_in_for(session, claims)
        if ticket is None:
            return _join_error(request, "invalid", 403)
        return _walk_in_join(request, session, ctx, token, claims, ticket)
    when = when_label(booking.start_at, booking.end_at, ctx.tz, locale)
    if booking.status == BookingStatus.CANCELLED:
        return _join_error(request, "cancelled", 409, {"when": when})
    if opens_at is None and _room_ended(session, ctx, booking.room_id):
        rating = _rating_href(ctx, claims, booking.room_id)
        return _join_error(request, "ended", 410, {"when": when, "rating_href": rating})
    service = booking.service
    response = render(
        request,
        "call/join.html",
        {
            "token": token,
            "room": booking.room_id,
            "participant": claims.get("pid", ""),
            "role": claims.get("role", "resident"),
            "when": when,
            "service": named(service, locale),
            "department": named(service.department, locale),
            "early": opens_at is not None,
            "opens_at": moment_label(opens_at, ctx.tz, locale) if opens_at else "",
            "messages": call_messages(locale),
            "rtc_config_url": f"{RTC_CONFIG_URL}?token={token}",
            "precheck_url": PRECHECK_URL,
            "rating_href": _rating_href(ctx, claims, booking.room_id),
            # The resident's screen lays a signer out beside the staff member.
            "sign_languages": sorted(SIGN_LANGUAGES) if claims.get("role") == "resident" else [],
        },
    )
    log.info("join page opened for room %s (early=%s)", booking.room_id, opens_at is not None)
    return _no_store(response)


# -- the staff member's call page ----------------------------------------------------------


def _state_of(session: Session, ctx: AppContext, booking: Booking) -> CallState:
    events = QueueReader(session, ctx.tz).events([booking.room_id])[booking.room_id]
    record = Consultations(session).for_booking(booking.id)
    return call_state(
        end=booking.end_at,
        events=events,
        outcome=record.outcome if record else None,
        now=ctx.clock.now(),
    )


@staff_router.get("/staff/call/{code}")
def staff_call_page(
    code: str,
    request: Request,
    staff: CurrentStaff,
    session: ReadSession,
    ctx: CtxDep,
    handover: str | None = None,
) -> Response:
    locale = page_locale(request)
    ticket_url = f"/api/v1/staff/bookings/{code}/join"
    if handover:
        # A colleague handed the call over: this link is their permission,
        # whatever their department (app/api/call_team.py).
        booking = handover_booking(session, ctx, handover, staff)
        if booking.code != code:
            raise Forbidden
        ticket_url = f"/api/v1/staff/handover/{handover}/join"
    else:
        booking = visible_booking(session, staff, code)
    record = Consultations(session).for_booking(booking.id)
    state = _state_of(session, ctx, booking)
    # Once the call has ended only its wrap-up is left on this page.
    ended = _room_ended(session, ctx, booking.room_id)
    departments = session.scalars(select(Department).order_by(Department.sort_order, Department.id))
    choices = handover_choices(session, staff, locale)
    response = console_page(
        request,
        "call/staff.html",
        staff,
        "queue",
        {
            "booking": booking,
            "cancelled": booking.status == BookingStatus.CANCELLED,
            "ended": ended,
            "wrapup_url": f"/staff/call/{booking.code}/wrapup",
            "when": when_label(booking.start_at, booking.end_at, ctx.tz, locale),
            "service": named(booking.service, locale),
            "department": named(booking.service.department, locale),
            "state": state.value,
            "state_label": gettext(locale, STATE_LABELS[state]),
            "notes": record.notes if record else "",
            "outcome": record.outcome if record and record.outcome else "",
            "referred_department_id": str(record.referred_department_id or "") if record else "",
            "outcomes": list(OUTCOME_LABELS.items()),
            "departments": [(d.id, named(d, locale)) for d in departments],
            "messages": call_messages(locale),
            "ticket_url": ticket_url,
            "handover_url": f"/api/v1/staff/bookings/{booking.code}/handover",
            "invite_url": f"/api/v1/staff/bookings/{booking.code}/invite",
            "photos_url": f"/api/v1/staff/bookings/{booking.code}/photos",
            "documents_url": f"/api/v1/staff/bookings/{booking.code}/documents",
            **{k: v for k, v in choices.items() if k != "departments"},
            "state_url": f"/staff/call/{booking.code}/state",
            "notes_url": f"/staff/bookings/{booking.code}/notes",
            "finish_url": f"/staff/call/{booking.code}/finish",
            "rtc_config_url": f"{RTC_CONFIG_URL}?room={booking.room_id}",
            "interp": interpreter_panel(
                session,
                ctx,
                booking.room_id,
                locale,
                call_url=f"/api/v1/staff/bookings/{booking.code}/interpreter",
            ),
        },
    )
    return _no_store(response)


@staff_router.get("/staff/call/{code}/state")
def staff_call_state(
    code: str, request: Request, staff: CurrentStaff, session: ReadSession, ctx: CtxDep
) -> JSONResponse:
    """The booking's call state, polled by the page until the staff member joins."""
    booking = visible_booking(session, staff, code)
    state = _state_of(session, ctx, booking)
    label = gettext(page_locale(request), STATE_LABELS[state])
    return JSONResponse(
        {"state": state.value, "label": label}, headers={"Cache-Control": "no-store"}
    )


@staff_router.post("/staff/call/{code}/finish")
def staff_call_finish(
    code: str,
    request: Request,
    staff: CurrentStaff,
    session: WriteSession,
    ctx: CtxDep,
    outcome: Annotated[str, Form(max_length=40)] = "",
    referred_department_id: Annotated[str, Form(max_length=20)] = "",
    notes: Annotated[str | None, Form()] = None,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Record the outcome (and the last notes) when the call ends."""
    verify_staff_csrf(request, staff, csrf_token)
    booking = visible_booking(session, staff, code)
    records = Consultations(session)
    department_id = int(referred_department_id) if referred_department_id.isdigit() else None
    now = ctx.clock.now()
    try:
        if notes is not None:
            records.save_notes(booking, staff, notes, now)
        records.set_outcome(booking, staff, outcome, now, referred_department_id=department_id)
    except ConsultationError as exc:
        session.rollback()
        message = gettext(page_locale(request), str(exc))
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse({"error": {"field": exc.field, "message": message}}, 422)
        return RedirectResponse(f"/staff/bookings/{code}", status_code=303)
    session.commit()
    log.info("booking %s: call finished by staff %s", booking.code, staff.id)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"outcome": outcome, "booking_url": f"/staff/bookings/{code}"})
    return RedirectResponse(f"/staff/bookings/{code}?saved=outcome", status_code=303)


@staff_router.get("/staff/call/{code}/wrapup")
def staff_call_wrapup(
    code: str, staff: CurrentStaff, session: WriteSession, ctx: CtxDep
) -> Response:
    """The wrap-up of this booking's call (each staff member who took part)."""
    booking = session.scalar(select(Booking).where(Booking.code == code))
    if booking is None:
        raise BookingNotFound(code)
    return wrapup_redirect(session, ctx, staff, booking.room_id)
