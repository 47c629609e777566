"""Session records and the wrap-up of every call, booked or walk-in.

``/staff/records``                 recent calls (mine, and my departments')
``/staff/records/{id}``            one session record: times, wait, talk, who
                                   took part, outcome, notes, its application
``/staff/records/{id}/wrapup``     the wrap-up form every call ends on: outcome,
                                   notes, and "open an application" with the
                                   session already attached

Both call pages (``web/pages/call/pages.py``, ``web/pages/staff/counter.py``)
send staff here when their part of a call ends, through ``wrapup_redirect``.
The writes go through ``app.tracker.wrapup`` (one path for both kinds); reads
of a record are written to the audit log.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.deps import CurrentStaff
from app.auth.errors import Forbidden
from app.auth.scope import StaffScope
from app.calls.consultations import ConsultationError
from app.core.context import AppContext
from app.core.deps import CtxDep, WriteSession
from app.core.i18n import gettext
from app.counter.models import QueueTicket
from app.tracker.audit import actor_of, audit
from app.tracker.models import Application, CallRating, RecordKind, SessionRecord
from app.tracker.wrapup import (
    application_of,
    consultation_of,
    may_read,
    may_wrap_up,
    recent_records,
    record_for_room,
    save_wrapup,
)
from scheduler.errors import BookingNotFound
from scheduler.models import Booking, Branch, Department, Kiosk, Service, Staff
from web.pages.staff.auth import StaffPageRoute, console_page, verify_staff_csrf
from web.pages.staff.console import OUTCOME_LABELS
from web.pages.staff.format import long_day_label, named
from web.templating import page_locale

log = logging.getLogger(__name__)
router = APIRouter(route_class=StaffPageRoute, include_in_schema=False)

KIND_LABELS = {RecordKind.BOOKING: "Booked call", RecordKind.WALK_IN: "Walk-in call"}
NOTICES = {"wrapup": "The wrap-up was saved."}


def wrapup_path(record: SessionRecord) -> str:
    return f"/staff/records/{record.id}/wrapup"


def record_path(record: SessionRecord) -> str:
    return f"/staff/records/{record.id}"


def wrapup_redirect(session: Session, ctx: AppContext, staff: Staff, room: str) -> Response:
    """Where a call page sends staff when their part of the call ends: the
    wrap-up of the call's session record (made now if the jobs loop has not)."""
    record = record_for_room(session, room, ctx.clock.now())
    if record is None:
        raise BookingNotFound(room)
    if not may_wrap_up(session, staff, record):
        raise Forbidden
    session.commit()
    return RedirectResponse(wrapup_path(record), status_code=303)


def _load(session: Session, staff: Staff, record_id: int) -> SessionRecord:
    record = session.get(SessionRecord, record_id)
    if record is None:
        raise BookingNotFound(str(record_id))  # the console's "not found" page
    if not may_read(session, staff, record):
        raise Forbidden
    return record


def _minutes(seconds: int | None, locale: str) -> str:
    if seconds is None:
        return "-"
    return gettext(locale, "{n} min", n=f"{seconds / 60:.1f}")


def _moment(ctx: AppContext, value: Any) -> str:
    return value.astimezone(ctx.tz).strftime("%H:%M:%S") if value is not None else "-"


def summary(
    session: Session, ctx: AppContext, record: SessionRecord, locale: str
) -> dict[str, Any]:
    """What both pages say about a call: kind, place, service, when, wait, talk."""
    service = session.get(Service, record.service_id)
    department = session.get(Department, record.department_id)
    booking = session.get(Booking, record.booking_id) if record.booking_id else None
    ticket = session.scalar(select(QueueTicket).where(QueueTicket.room_id == record.room))
    kiosk = session.get(Kiosk, record.kiosk_id) if record.kiosk_id else None
    branch = session.get(Branch, record.branch_id) if record.branch_id else None
    started = record.started_at.astimezone(ctx.tz)
    branch_name = named(branch, locale) if branch else ""
    place = kiosk.name if kiosk else branch_name
    if kiosk and branch_name and branch_name not in kiosk.name:
        place = f"{branch_name} {kiosk.name}"
    who_label = "Resident"
    if booking is not None:
        who = booking.resident_name
    elif ticket is not None:
        who, who_label = gettext(locale, "Ticket {number}", number=ticket.number), "Ticket number"
    else:
        who = ""
    return {
        "record": record,
        "kind": KIND_LABELS.get(RecordKind(record.kind), record.kind),
        "who": who,
        "who_label": who_label,
        "booking": booking,
        "ticket": ticket,
        "service": named(service, locale) if service else "",
        "department": named(department, locale) if department else "",
        "place": place,
        "day": long_day_label(started.date(), locale) + " " + started.strftime("%H:%M"),
        "wait": _minutes(record.wait_seconds, locale),
        "talk": _minutes(record.talk_seconds, locale),
        "outcome_label": OUTCOME_LABELS.get(record.outcome or "", ""),
        "href": record_path(record),
        "wrapup_href": wrapup_path(record),
    }


def _application(session: Session, record: SessionRecord) -> Application | None:
    app_id = application_of(session, record)
    return session.get(Application, app_id) if app_id is not None else None


@router.get("/staff/records")
def records_page(
    request: Request, staff: CurrentStaff, session: WriteSession, ctx: CtxDep, mine: bool = False
) -> Response:
    locale = page_locale(request)
    records = recent_records(session, staff, mine=mine)
    audit(session, actor_of(request, staff), "read", "session-list", "-", ctx.clock.now())
    rows = [summary(session, ctx, r, locale) for r in records]
    session.commit()
    return console_page(
        request, "staff/records.html", staff, "records", {"rows": rows, "mine": mine}
    )


@router.get("/staff/records/{record_id}")
def record_page(
    record_id: int, request: Request, staff: CurrentStaff, session: WriteSession, ctx: CtxDep
) -> Response:
    locale = page_locale(request)
    record = _load(session, staff, record_id)
    now = ctx.clock.now()
    if not record.closed:
        record = record_for_room(session, record.room, now) or record
    consultation = consultation_of(session, record)
    staff_ids = [s.staff_id for s in record.segments if s.staff_id is not None]
    names = (
        {
            sid: name
            for sid, name in session.execute(
                select(Staff.id, Staff.display_name).where(Staff.id.in_(staff_ids))
            )
        }
        if staff_ids
        else {}
    )
    referred = (
        session.get(Department, consultation.referred_department_id)
        if consultation and consultation.referred_department_id
        else None
    )
    rating = session.scalar(select(CallRating).where(CallRating.record_id == record.id))
    context = {
        **summary(session, ctx, record, locale),
        "times": [
            ("Waiting since", _moment(ctx, record.queued_at)),
            ("Answered", _moment(ctx, record.answered_at)),
            ("Connected", _moment(ctx, record.connected_at)),
            ("Ended", _moment(ctx, record.ended_at)),
        ],
        "segments": [
            {
                "who": names.get(s.staff_id, s.participant) if s.staff_id else s.participant,
                "joined": _moment(ctx, s.joined_at),
                "left": _moment(ctx, s.left_at),
            }
            for s in record.segments
        ],
        "referred": named(referred, locale) if referred else "",
        "application": _application(session, record),
        "rating": rating,
        "may_wrap_up": may_wrap_up(session, staff, record),
    }
    audit(session, actor_of(request, staff), "read", "session-record", record.id, now)
    session.commit()
    return console_page(request, "staff/record.html", staff, "records", context)


def _wrapup_page(
    request: Request,
    staff: Staff,
    session: Session,
    ctx: AppContext,
    record: SessionRecord,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    locale = page_locale(request)
    consultation = consultation_of(session, record)
    values = {
        "outcome": consultation.outcome or "" if consultation else "",
        "referred_department_id": str(consultation.referred_department_id or "")
        if consultation
        else "",
        "notes": consultation.notes if consultation else "",
    }
    values.update(form or {})
    departments = list(
        session.scalars(select(Department).order_by(Department.sort_order, Department.id))
    )
    # An application is opened in one of the staff member's own departments
    # (the call's, when it is theirs); the call is attached whatever its department.
    scope = StaffScope.of(staff)
    own = [(d.id, named(d, locale)) for d in departments if scope.covers_department(d.id)]
    info = summary(session, ctx, record, locale)
    booking = info["booking"]
    return console_page(
        request,
        "staff/wrapup.html",
        staff,
        "records",
        {
            **info,
            "values": values,
            "errors": errors or {},
            "notice": notice,
            "outcomes": list(OUTCOME_LABELS.items()),
            "departments": [(d.id, named(d, locale)) for d in departments],
            "own_departments": own,
            "application": _application(session, record),
            "resident_name": booking.resident_name if booking else "",
            "resident_email": booking.resident_email or "" if booking else "",
        },
        status_code=status_code,
    )


@router.get("/staff/records/{record_id}/wrapup")
def wrapup_page(
    record_id: int,
    request: Request,
    staff: CurrentStaff,
    session: WriteSession,
    ctx: CtxDep,
    saved: str | None = None,
) -> Response:
    record = _load(session, staff, record_id)
    if not may_wrap_up(session, staff, record):
        raise Forbidden
    if not record.closed:
        record = record_for_room(session, record.room, ctx.clock.now()) or record
    response = _wrapup_page(request, staff, session, ctx, record, notice=NOTICES.get(saved or ""))
    session.commit()
    return response


@router.post("/staff/records/{record_id}/wrapup")
def save_wrapup_form(
    record_id: int,
    request: Request,
    staff: CurrentStaff,
    session: WriteSession,
    ctx: CtxDep,
    outcome: Annotated[str, Form(max_length=40)] = "",
    referred_department_id: Annotated[str, Form(max_length=20)] = "",
    notes: Annotated[str | None, Form()] = None,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Record the call's outcome and notes (the same record as the booked call's
    notes and outcome: ``app.calls.consultations``)."""
    verify_staff_csrf(request, staff, csrf_token)
    record = _load(session, staff, record_id)
    if not may_wrap_up(session, staff, record):
        raise Forbidden
    department_id = int(referred_department_id) if referred_department_id.isdigit() else None
    now = ctx.clock.now()
    wants_json = "application/json" in request.headers.get("accept", "")
    try:
        save_wrapup(
            session,
            record,
            staff,
            now,
            outcome=outcome,
            notes=notes,
            referred_department_id=department_id,
        )
    except ConsultationError as exc:
        session.rollback()
        if wants_json:
            message = gettext(page_locale(request), str(exc))
            return JSONResponse({"error": {"field": exc.field, "message": message}}, 422)
        record = _load(session, staff, record_id)
        form = {
            "outcome": outcome,
            "referred_department_id": referred_department_id,
            "notes": notes or "",
        }
        return _wrapup_page(
            request, staff, session, ctx, record,
            errors={exc.field: str(exc)}, form=form, status_code=422,
        )  # fmt: skip
    audit(session, actor_of(request, staff), "change", "session-record", record.id, now,
          f"wrap-up {outcome}")  # fmt: skip
    session.commit()
    log.info("record %s: wrapped up by staff %s (%s)", record.id, staff.id, outcome)
    if wants_json:
        return JSONResponse({"outcome": outcome, "record_url": record_path(record)})
    return RedirectResponse(f"{wrapup_path(record)}?saved=wrapup", status_code=303)
