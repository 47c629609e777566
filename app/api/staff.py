"""Staff API: login session, booking on behalf (代理予約), busy-time import.

The printable slip of a booking on behalf is web/pages/staff/slip.py (an HTML page).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import httpx
from fastapi import APIRouter, Body, Path, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select, update

from app.api.bookings import place_booking
from app.api.schemas import (
    BusyImportOut,
    LoginIn,
    ProxyBookingCreate,
    ProxyBookingOut,
    StaffOut,
    booking_out,
)
from app.auth.deps import CurrentStaff
from app.auth.login import check_password
from app.auth.scope import StaffScope
from app.auth.sessions import end_staff_session, start_staff_session
from app.booking.access import staff_booking
from app.booking.deps import ReadSchedulingDep, SchedulingDep
from app.calls.tickets import JoinTicketOut, call_ticket
from app.core import abuse
from app.core.deps import CtxDep, LocaleDep, WriteSession
from app.core.errors import error_body
from app.core.i18n import gettext
from app.core.params import MAX_ID
from app.core.passwords import hasher
from scheduler.errors import BookingCancelled, CalendarParseError, InvalidBookingRequest
from scheduler.ical import busy_from_ics
from scheduler.models import Staff
from scheduler.service import SchedulingService

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["staff"])
BUSY_WINDOW_DAYS = 120
StaffIdPath = Annotated[int, Path(ge=1, le=MAX_ID)]


def staff_out(staff: Staff, request: Request) -> StaffOut:
    links = request.app.state.ctx.links
    return StaffOut(
        id=staff.id,
        login=staff.login,
        display_name=staff.display_name,
        is_admin=staff.is_admin,
        feed_url=links.feed_url(staff),
    )


@router.post("/auth/login", responses={401: {"model": dict}, 429: {"model": dict}})
def login(
    body: LoginIn, request: Request, svc: ReadSchedulingDep, ctx: CtxDep, locale: LocaleDep
) -> Response:
    if not ctx.settings.staff_password_login:
        return JSONResponse(
            error_body(
                "password-login-off",
                gettext(
                    locale, "Password login is switched off. Sign in through the city's directory."
                ),
            ),
            status_code=403,
        )
    # A read session: password hashing takes a good fraction of a second and
    # must not hold the database's write lock (SQLite) meanwhile.
    locked = abuse.login_locked(ctx, request, body.login)
    if locked is not None:
        log.info("staff login refused: locked for %s s", locked)
        raise abuse.RateLimited("login", locked)
    staff = svc.session.scalar(select(Staff).where(Staff.login == body.login))
    if not check_password(staff, body.password) or staff is None:
        abuse.login_failed(ctx, request, body.login)
        return JSONResponse(
            error_body("bad-credentials", gettext(locale, "The login or password is wrong.")),
            status_code=401,
        )
    rehashed = (
        hasher.hash(body.password) if hasher.check_needs_rehash(staff.password_hash or "") else None
    )
    # One short write: the new session row (and a rehash), after the slow hashing.
    with ctx.writer_sessions() as session:
        if rehashed is not None:
            session.execute(
                update(Staff).where(Staff.id == staff.id).values(password_hash=rehashed)
            )
        start_staff_session(request, session, staff.id, ctx)
        session.commit()
    abuse.login_succeeded(ctx, body.login)
    log.info("staff %s logged in", staff.id)
    return JSONResponse(staff_out(staff, request).model_dump())


@router.post("/auth/logout", status_code=204)
def logout(request: Request, session: WriteSession) -> Response:
    end_staff_session(request, session)
    session.commit()
    return Response(status_code=204)


@router.get("/auth/me")
def me(staff: CurrentStaff, request: Request) -> StaffOut:
    return staff_out(staff, request)


@router.post("/staff/bookings", status_code=201, responses={409: {"model": dict}})
def book_on_behalf(
    body: ProxyBookingCreate,
    staff: CurrentStaff,
    svc: SchedulingDep,
    ctx: CtxDep,
    locale: LocaleDep,
) -> ProxyBookingOut:
    booking = place_booking(body, svc, ctx, booked_by=staff.id)
    out = booking_out(booking, ctx.links, ctx.tz, locale)
    return ProxyBookingOut(
        **out.model_dump(),
        slip_url=f"{ctx.settings.internal_url().rstrip('/')}/api/v1/staff/bookings/"
        f"{booking.code}/slip",
    )


@router.put("/staff/{staff_id}/busy", responses={422: {"model": dict}})
def import_busy(
    staff_id: StaffIdPath,
    staff: CurrentStaff,
    svc: SchedulingDep,
    ctx: CtxDep,
    body: Annotated[bytes, Body(media_type="text/calendar", min_length=1)],
) -> BusyImportOut:
    StaffScope.of(staff).require_self(staff_id)
    now = ctx.clock.now()
    ranges = busy_from_ics(body, now, now + timedelta(days=BUSY_WINDOW_DAYS), tz=ctx.tz)
    count = svc.replace_external_busy(staff_id, ranges, source="upload")
    svc.session.commit()
    return BusyImportOut(staff_id=staff_id, imported=count)


def fetch_busy_calendar(url: str, transport: httpx.BaseTransport | None = None) -> bytes:
    try:
        with httpx.Client(timeout=20, follow_redirects=True, transport=transport) as client:
            response = client.get(url)
            response.raise_for_status()
            return response.content
    except httpx.HTTPError as exc:
        raise CalendarParseError(f"could not fetch the calendar: {type(exc).__name__}") from exc


@router.post("/staff/{staff_id}/busy/sync", responses={422: {"model": dict}})
def sync_busy(
    staff_id: StaffIdPath, staff: CurrentStaff, reader: ReadSchedulingDep, ctx: CtxDep
) -> BusyImportOut:
    """Re-read the staff member's external calendar URL (e.g. an Outlook/Google ICS link)."""
    StaffScope.of(staff).require_self(staff_id)
    target = reader.session.get(Staff, staff_id)
    if target is None or not target.busy_calendar_url:
        raise InvalidBookingRequest("unknown staff member", field="staff_id")
    # Fetched before the write lock is taken: the remote calendar may take seconds.
    data = fetch_busy_calendar(target.busy_calendar_url)
    now = ctx.clock.now()
    ranges = busy_from_ics(data, now, now + timedelta(days=BUSY_WINDOW_DAYS), tz=ctx.tz)
    with ctx.writer_sessions() as session:
        svc = SchedulingService(session, tz=ctx.tz)
        count = svc.replace_external_busy(staff_id, ranges, source=target.busy_calendar_url)
        session.commit()
    return BusyImportOut(staff_id=staff_id, imported=count)


def sync_staff_busy(
    svc: SchedulingService,
    staff: Staff,
    now: datetime,
    tz: ZoneInfo,
    transport: httpx.BaseTransport | None = None,
) -> int:
    assert staff.busy_calendar_url
    data = fetch_busy_calendar(staff.busy_calendar_url, transport)
    ranges = busy_from_ics(data, now, now + timedelta(days=BUSY_WINDOW_DAYS), tz=tz)
    return svc.replace_external_busy(staff.id, ranges, source=staff.busy_calendar_url)


@router.post("/staff/bookings/{code}/join", responses={403: {"model": dict}})
def staff_join_ticket(
    code: str, staff: CurrentStaff, svc: ReadSchedulingDep, ctx: CtxDep
) -> JoinTicketOut:
    """A short-lived staff token for the booking's room, from the logged-in session."""
    booking = staff_booking(svc, StaffScope.of(staff), code)
    if booking.status != "confirmed":
        raise BookingCancelled(booking.code)
    return call_ticket(ctx, booking.room_id, "staff", f"staff:{staff.id}", staff.display_name)
