"""The staff console: today's queue (live), a booking's notes and outcome, my week.

Routes stay thin: the queue and week come from ``app.calls.staff_queue`` and
``app.calls.staff_week``, records from ``app.calls.consultations``; each writing request
commits once.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import anyio
from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.deps import CurrentStaff
from app.auth.errors import Forbidden, NotLoggedIn
from app.auth.scope import StaffScope
from app.auth.sessions import stream_staff_id
from app.booking.views import interpreter_label
from app.calls.consultations import ConsultationError, Consultations
from app.calls.models import Outcome
from app.calls.staff_queue import STATE_LABELS, EventView, QueueEntry, QueueReader, call_state
from app.calls.staff_week import staff_week, week_start
from app.core.context import AppContext
from app.core.deps import CtxDep, ReadSession, WriteSession
from app.core.i18n import gettext
from app.core.links import Links
from app.counter.models import HandoverKind, HandoverRequest, HandoverStatus
from app.tracker.audit import Actor, audit
from app.tracker.models import SessionRecord
from scheduler.errors import BookingNotFound
from scheduler.models import Booking, Department, Staff
from web.pages.staff.auth import StaffPageRoute, console_page, verify_staff_csrf
from web.pages.staff.format import (
    channel_label,
    clock,
    day_label,
    long_day_label,
    named,
    span,
    wall_windows,
)
from web.sse import Event, Step, event_stream
from web.templating import page_locale

log = logging.getLogger(__name__)


def actor_of(request: Request, staff: Staff) -> Actor:
    """The staff member and client address for the audit log."""
    return Actor(staff.id, request.client.host if request.client else None)


router = APIRouter(route_class=StaffPageRoute, include_in_schema=False)

OUTCOME_LABELS: dict[str, str] = {
    Outcome.COMPLETED: "Completed",
    Outcome.FOLLOW_UP_NEEDED: "Follow-up needed",
    Outcome.NO_SHOW: "No-show",
    Outcome.REFERRED: "Referred to another department",
}

ROLE_LABELS: dict[str, str] = {
    "resident": "Resident",
    "kiosk": "Kiosk",
    "staff": "Staff",
    "interpreter": "Interpreter",
    "observer": "Observer",
}

EVENT_LABELS: dict[str, str] = {
    "join": "joined",
    "leave": "left",
    "reconnecting": "connection lost, reconnecting",
    "resumed": "reconnected",
    "call-start": "Call started",
    "call-end": "Call ended",
}

# Notices after a redirect are chosen by key, never taken from the URL as text.
NOTICES = {
    "notes": "The notes were saved.",
    "outcome": "The outcome was saved.",
    "feed": "A new calendar link was made. The old link no longer works.",
}


def join_path(code: str) -> str:
    """The staff call page (built by the call pages) for a booking's room."""
    return f"/staff/call/{code}"


def queue_row(entry: QueueEntry, locale: str, tz: ZoneInfo) -> dict[str, str]:
    """One queue row, the same for the first render and for live updates."""
    booking = entry.booking
    label = gettext(locale, STATE_LABELS[entry.state])
    return {
        "code": booking.code,
        "start": booking.start_at.isoformat(),
        "time": span(booking.start_at, booking.end_at, tz),
        "service": named(booking.service, locale),
        "resident": booking.resident_name,
        "channel": channel_label(booking, locale),
        "staff": booking.staff.display_name,
        "state": entry.state.value,
        "state_label": label,
        "announce": gettext(
            locale,
            "{time} {name}: {state}",
            time=clock(booking.start_at, tz),
            name=booking.resident_name,
            state=label,
        ),
        "join_url": join_path(booking.code),
        "detail_url": f"/staff/bookings/{booking.code}",
    }


@router.get("/staff")
def queue_page(
    request: Request,
    staff: CurrentStaff,
    session: ReadSession,
    ctx: CtxDep,
    team: bool = False,
) -> Response:
    locale = page_locale(request)
    now = ctx.clock.now()
    today = now.astimezone(ctx.tz).date()
    entries = QueueReader(session, ctx.tz).queue(staff, today, now, team=team)
    events_url = "/staff/queue/events" + ("?team=1" if team else "")
    return console_page(
        request,
        "staff/queue.html",
        staff,
        "queue",
        {
            "rows": [queue_row(e, locale, ctx.tz) for e in entries],
            "today": long_day_label(today, locale),
            "team": team,
            "events_url": events_url,
        },
    )


def _snapshot(ctx: AppContext, staff_id: int, locale: str, team: bool) -> dict[str, Any] | None:
    with ctx.sessions() as session:
        staff = session.get(Staff, staff_id)
        if staff is None or not staff.active:
            return None
        now = ctx.clock.now()
        today = now.astimezone(ctx.tz).date()
        entries = QueueReader(session, ctx.tz).queue(staff, today, now, team=team)
        return {e.booking.code: queue_row(e, locale, ctx.tz) for e in entries}


def queue_step(ctx: AppContext, staff_id: int, locale: str, team: bool) -> Step:
    """A snapshot first, then only rows that changed (or disappeared)."""
    previous: dict[str, Any] | None = None

    def step() -> list[Event] | None:
        nonlocal previous
        rows = _snapshot(ctx, staff_id, locale, team)
        if rows is None:
            return None
        if previous is None:
            events = [Event("snapshot", {"rows": list(rows.values()), "removed": []})]
        else:
            changed = [row for code, row in rows.items() if previous.get(code) != row]
            removed = [code for code in previous if code not in rows]
            events = (
                [Event("change", {"rows": changed, "removed": removed})]
                if changed or removed
                else []
            )
        previous = rows
        return events

    return step


@router.get("/staff/queue/events")
async def queue_events(request: Request, ctx: CtxDep, team: bool = False) -> Response:
    staff_id = await anyio.to_thread.run_sync(stream_staff_id, request, ctx)
    if staff_id is None:
        raise NotLoggedIn
    return event_stream(request, queue_step(ctx, staff_id, page_locale(request), team))


# -- one booking: details, notes, outcome ----------------------------------------


def interpreter_view(booking: Booking, locale: str, links: Links) -> dict[str, str] | None:
    """The interpreter booked with ``booking``: language and name, and their call link."""
    label = interpreter_label(booking, locale)
    if label is None:
        return None
    person = booking.interpreter
    who = f"（{person.name}）" if person is not None else ""
    return {"label": label + who, "link": links.interpreter_join_url(booking) or ""}


def visible_booking(session: Session, staff: Staff, code: str) -> Booking:
    """The booking, if this staff member may see it (the join ticket's rule)."""
    booking = session.scalar(select(Booking).where(Booking.code == code))
    if booking is None:
        raise BookingNotFound(code)
    if not StaffScope.of(staff).covers_booking(booking) and not _took_over(session, staff, booking):
        raise Forbidden
    return booking


def _took_over(session: Session, staff: Staff, booking: Booking) -> bool:
    """A colleague of any department who accepted a hand-over of this call
    carries on with it: notes, state and outcome (app/counter/handover.py)."""
    accepted = session.scalar(
        select(HandoverRequest.id).where(
            HandoverRequest.booking_id == booking.id,
            HandoverRequest.accepted_by == staff.id,
            HandoverRequest.kind == HandoverKind.HANDOVER,
            HandoverRequest.status == HandoverStatus.ACCEPTED,
        )
    )
    return accepted is not None


def _timeline(events: list[EventView], locale: str, tz: ZoneInfo) -> list[dict[str, str]]:
    return [
        {
            "time": clock(e.at, tz),
            "who": gettext(locale, ROLE_LABELS.get(e.role or "", "")) if e.role else "",
            "what": gettext(locale, EVENT_LABELS.get(e.kind, e.kind)),
        }
        for e in events
    ]


def _booking_page(
    request: Request,
    staff: Staff,
    session: Session,
    ctx: AppContext,
    booking: Booking,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    locale = page_locale(request)
    reader = QueueReader(session, ctx.tz)
    events = reader.events([booking.room_id])[booking.room_id]
    record = Consultations(session).for_booking(booking.id)
    state = call_state(
        end=booking.end_at,
        events=events,
        outcome=record.outcome if record else None,
        now=ctx.clock.now(),
    )
    departments = session.scalars(select(Department).order_by(Department.sort_order, Department.id))
    values = {
        "outcome": record.outcome if record and record.outcome else "",
        "referred_department_id": str(record.referred_department_id or "") if record else "",
        "notes": record.notes if record else "",
    }
    values.update(form or {})
    return console_page(
        request,
        "staff/booking.html",
        staff,
        "queue",
        {
            "booking": booking,
            "when": long_day_label(booking.start_at.astimezone(ctx.tz).date(), locale)
            + " "
            + span(booking.start_at, booking.end_at, ctx.tz),
            "service": named(booking.service, locale),
            "department": named(booking.service.department, locale),
            "channel": channel_label(booking, locale),
            "interpreter": interpreter_view(booking, locale, ctx.links),
            "state": state.value,
            "state_label": gettext(locale, STATE_LABELS[state]),
            "timeline": _timeline(events, locale, ctx.tz),
            "record": record,
            "updated": clock(record.updated_at, ctx.tz) if record else "",
            "outcomes": list(OUTCOME_LABELS.items()),
            "departments": [(d.id, named(d, locale)) for d in departments],
            "values": values,
            "errors": errors or {},
            "notice": notice,
            "join_url": join_path(booking.code),
            "session_record_id": session.scalar(
                select(SessionRecord.id).where(SessionRecord.booking_id == booking.id)
            ),
        },
        status_code=status_code,
    )


@router.get("/staff/bookings/{code}")
def booking_page(
    code: str,
    request: Request,
    staff: CurrentStaff,
    session: WriteSession,
    ctx: CtxDep,
    saved: str | None = None,
) -> Response:
    booking = visible_booking(session, staff, code)
    response = _booking_page(request, staff, session, ctx, booking, notice=NOTICES.get(saved or ""))
    audit(session, actor_of(request, staff), "read", "consultation", booking.id, ctx.clock.now())
    session.commit()
    return response


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


@router.post("/staff/bookings/{code}/notes")
def save_notes(
    code: str,
    request: Request,
    staff: CurrentStaff,
    session: WriteSession,
    ctx: CtxDep,
    notes: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    verify_staff_csrf(request, staff, csrf_token)
    booking = visible_booking(session, staff, code)
    try:
        record = Consultations(session).save_notes(booking, staff, notes, ctx.clock.now())
        audit(session, actor_of(request, staff), "change", "consultation", booking.id,
              ctx.clock.now(), "notes")  # fmt: skip
    except ConsultationError as exc:
        session.rollback()
        message = gettext(page_locale(request), str(exc))
        if _wants_json(request):
            return JSONResponse({"error": {"field": exc.field, "message": message}}, 422)
        return _booking_page(
            request, staff, session, ctx, booking,
            errors={exc.field: str(exc)}, form={"notes": notes}, status_code=422,
        )  # fmt: skip
    session.commit()
    if _wants_json(request):
        return JSONResponse({"saved_at": clock(record.updated_at, ctx.tz)})
    return RedirectResponse(f"/staff/bookings/{code}?saved=notes", status_code=303)


@router.post("/staff/bookings/{code}/outcome")
def save_outcome(
    code: str,
    request: Request,
    staff: CurrentStaff,
    session: WriteSession,
    ctx: CtxDep,
    outcome: Annotated[str, Form()] = "",
    referred_department_id: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    verify_staff_csrf(request, staff, csrf_token)
    booking = visible_booking(session, staff, code)
    department_id = int(referred_department_id) if referred_department_id.isdigit() else None
    try:
        Consultations(session).set_outcome(
            booking, staff, outcome, ctx.clock.now(), referred_department_id=department_id
        )
        audit(session, actor_of(request, staff), "change", "consultation", booking.id,
              ctx.clock.now(), f"outcome {outcome}")  # fmt: skip
    except ConsultationError as exc:
        session.rollback()
        return _booking_page(
            request, staff, session, ctx, booking,
            errors={exc.field: str(exc)},
            form={"outcome": outcome, "referred_department_id": referred_department_id},
            status_code=422,
        )  # fmt: skip
    session.commit()
    return RedirectResponse(f"/staff/bookings/{code}?saved=outcome", status_code=303)


# -- my week and the calendar feed ------------------------------------------------


@router.get("/staff/schedule")
def schedule_page(
    request: Request,
    staff: CurrentStaff,
    session: ReadSession,
    ctx: CtxDep,
    week: Annotated[date | None, Query()] = None,
    saved: str | None = None,
) -> Response:
    locale = page_locale(request)
    today = ctx.clock.now().astimezone(ctx.tz).date()
    monday = week_start(week or today)
    days = []
    for plan in staff_week(session, staff, monday, ctx.tz):
        days.append(
            {
                "label": day_label(plan.day, locale),
                "iso": plan.day.isoformat(),
                "today": plan.day == today,
                "hours": wall_windows(plan.hours),
                "city_closed": plan.city_closed,
                "leave": [
                    span(lv.start_at, lv.end_at, ctx.tz) + (f" {lv.note}" if lv.note else "")
                    for lv in plan.leave
                ],
                "bookings": [
                    {
                        "code": b.code,
                        "time": span(b.start_at, b.end_at, ctx.tz),
                        "service": named(b.service, locale),
                        "resident": b.resident_name,
                        "channel": channel_label(b, locale),
                    }
                    for b in plan.bookings
                ],
            }
        )
    sunday = monday + timedelta(days=6)
    return console_page(
        request,
        "staff/schedule.html",
        staff,
        "schedule",
        {
            "days": days,
            "range": f"{long_day_label(monday, locale)} – {long_day_label(sunday, locale)}",
            "previous": (monday - timedelta(days=7)).isoformat(),
            "next": (monday + timedelta(days=7)).isoformat(),
            "this_week": week_start(today).isoformat(),
            "feed_url": ctx.links.feed_url(staff),
            "notice": NOTICES.get(saved or ""),
        },
    )


@router.post("/staff/feed/regenerate")
def regenerate_feed(
    request: Request,
    staff: CurrentStaff,
    session: WriteSession,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    verify_staff_csrf(request, staff, csrf_token)
    me = session.get(Staff, staff.id)
    assert me is not None
    # Every link signed with the old version stops working at once.
    me.feed_version += 1
    session.commit()
    log.info("staff %s: calendar feed link regenerated", me.id)
    return RedirectResponse("/staff/schedule?saved=feed", status_code=303)
