"""Staff pages of the application tracker: the filtered list and one application.

Reads and changes go through ``app.tracker``, within the staff member's scope
(``app.auth.scope``); every read of an application is written to the audit
log; each writing request commits once.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.deps import CurrentScope, CurrentStaff
from app.auth.scope import StaffScope
from app.core.context import AppContext
from app.core.deps import CtxDep, WriteSession
from app.tracker.audit import actor_of, audit
from app.tracker.models import Application, ApplicationDocument, ApplicationEvent, SessionRecord
from app.tracker.queries import PAGE_SIZE, ApplicationFilter, is_overdue, list_applications
from app.tracker.record_builder import RecordBuilder
from app.tracker.service import (
    ApplicationError,
    ApplicationService,
    NewApplication,
    application_service,
)
from app.tracker.workflow import STATUS_LABELS, ApplicationStatus, IllegalTransition, allowed
from scheduler.errors import BookingNotFound
from scheduler.models import Booking, Department, Staff
from web.pages.staff.auth import StaffPageRoute, console_page, verify_staff_csrf
from web.pages.staff.format import named
from web.templating import page_locale

router = APIRouter(route_class=StaffPageRoute, include_in_schema=False)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _status_label(value: str | None) -> str | None:
    status = _status(value)
    return STATUS_LABELS[status] if status is not None else None


def _actor_name(event: ApplicationEvent, names: dict[int, str]) -> str:
    """Who made the change, as people read it: the staff member's name."""
    if event.staff_id is not None and event.staff_id in names:
        return names[event.staff_id]
    return {"resident": "Resident", "system": "System"}.get(event.actor, event.actor)


def session_record(
    session: Session, now: datetime, *, booking_code: str = "", record_id: str = ""
) -> SessionRecord | None:
    """The session record a form names: by its number (any call, booked or
    walk-in) or by a booking's code; None when it names none."""
    if record_id.strip():
        record = session.get(SessionRecord, _int(record_id.strip()) or 0)
        if record is None:
            raise BookingNotFound(record_id)
        return record
    if booking_code.strip():
        booking = session.scalar(select(Booking).where(Booking.code == booking_code.strip()))
        if booking is None:
            raise BookingNotFound(booking_code)
        return RecordBuilder(session).sync_booking(booking, now)
    return None


def _status(value: str | None) -> ApplicationStatus | None:
    try:
        return ApplicationStatus(value) if value else None
    except ValueError:
        return None


@router.get("/staff/applications")
def applications_page(
    request: Request,
    staff: CurrentStaff,
    scope: CurrentScope,
    session: WriteSession,
    ctx: CtxDep,
    status: str | None = None,
    department_id: str | None = None,
    assignee_id: str | None = None,
    overdue: str | None = None,
    created_from: str | None = None,
    created_to: str | None = None,
    q: str = "",
    page: str | None = None,
) -> Response:
    f = ApplicationFilter(
        _status(status),
        _int(department_id),
        _int(assignee_id),
        overdue == "1",
        _date(created_from),
        _date(created_to),
        q[:100],
    )
    now = ctx.clock.now()
    today = now.astimezone(ctx.tz).date()
    number = max(1, min(_int(page) or 1, 100_000))
    apps, total = list_applications(
        session, f, scope, today, ctx.tz, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE
    )
    audit(session, actor_of(request, staff), "read", "application-list", "-", now, repr(f))
    session.commit()
    query = request.url.query
    pages = max(1, -(-total // PAGE_SIZE))
    return console_page(
        request,
        "staff/applications.html",
        staff,
        "applications",
        {
            "apps": [_row(a, today, page_locale(request)) for a in apps],
            "total": total,
            "filter": f,
            "statuses": [(s.value, STATUS_LABELS[s]) for s in ApplicationStatus],
            "departments": _departments(session, scope),
            "departments_for_new": _departments(session, scope),
            "staff_members": session.scalars(
                select(Staff).where(Staff.active.is_(True)).order_by(Staff.display_name)
            ),
            "csv_href": "/api/v1/staff/applications/export.csv" + (f"?{query}" if query else ""),
            "page": number,
            "pages": pages,
            "prev_href": _page_href(request, number - 1) if number > 1 else None,
            "next_href": _page_href(request, number + 1) if number < pages else None,
        },
    )


def _departments(session: Session, scope: StaffScope) -> list[Department]:
    """The departments whose applications this staff member may list or open."""
    return list(
        session.scalars(
            select(Department)
            .where(scope.department_clause(Department.id))
            .order_by(Department.sort_order)
        )
    )


def _page_href(request: Request, number: int) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    return "/staff/applications?" + urlencode([*params, ("page", str(number))])


# Timeline entries as staff read them (kinds are stored in English, untranslated).
EVENT_LABELS = {
    "opened": "Opened",
    "status": "Status changed",
    "session-attached": "Session attached",
    "assigned": "Assigned",
    "due": "Due date set",
    "document-requested": "Document requested",
    "reply": "Reply from the resident",
    "document-uploaded": "Document received",
}


def _row(application: Application, today: date, locale: str) -> dict[str, Any]:
    return {
        "id": application.id,
        "reference": application.reference,
        "procedure": application.procedure,
        "resident_name": application.resident_name,
        "status_label": STATUS_LABELS[application.status_enum],
        "department": named(application.department, locale),
        "assignee": application.assignee.display_name if application.assignee else "",
        "due": application.due_date.isoformat() if application.due_date else "",
        "overdue": is_overdue(application, today),
    }


def _detail_page(
    request: Request,
    staff: Staff,
    session: Session,
    ctx: AppContext,
    application: Application,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    svc = application_service(session, ctx, StaffScope.of(staff))
    records = svc.records(application)
    booking_ids = [r.booking_id for r in records if r.booking_id is not None]
    bookings = (
        {b.id: b for b in session.scalars(select(Booking).where(Booking.id.in_(booking_ids)))}
        if booking_ids
        else {}
    )
    today = ctx.clock.now().astimezone(ctx.tz).date()
    actor_ids = {e.staff_id for e in application.events if e.staff_id is not None}
    names = (
        {
            staff_id: name
            for staff_id, name in session.execute(
                select(Staff.id, Staff.display_name).where(Staff.id.in_(actor_ids))
            )
        }
        if actor_ids
        else {}
    )
    return console_page(
        request,
        "staff/application.html",
        staff,
        "applications",
        {
            "app": application,
            "row": _row(application, today, page_locale(request)),
            "records": [
                {
                    "record": r,
                    "booking": bookings.get(r.booking_id) if r.booking_id else None,
                    "started": r.started_at.astimezone(ctx.tz).strftime("%Y-%m-%d %H:%M"),
                    "kind": "Booked call" if r.booking_id else "Walk-in call",
                }
                for r in records
            ],
            "events": [
                {
                    "e": e,
                    "at": e.at.astimezone(ctx.tz).strftime("%Y-%m-%d %H:%M"),
                    "label": EVENT_LABELS.get(e.kind, e.kind),
                    # Only a change of status shows one (opening already says 受付).
                    "from_label": _status_label(e.from_status) if e.kind == "status" else None,
                    "to_label": _status_label(e.to_status) if e.kind == "status" else None,
                    "who": _actor_name(e, names),
                }
                for e in application.events
            ],
            "departments": list(
                session.scalars(select(Department).order_by(Department.sort_order))
            ),
            "staff_members": list(
                session.scalars(
                    select(Staff).where(Staff.active.is_(True)).order_by(Staff.display_name)
                )
            ),
            "targets": [
                (s.value, STATUS_LABELS[s]) for s in sorted(allowed(application.status_enum))
            ],
            "status_url": ctx.links.application_url(application.id, application.reference),
            "error": error,
        },
        status_code=status_code,
    )


def _load(svc: ApplicationService, application_id: int) -> Application:
    application = svc.get(application_id)  # Forbidden outside the staff member's scope
    if application is None:
        raise BookingNotFound(str(application_id))  # the console's "not found" page
    return application


@router.get("/staff/applications/{application_id}")
def application_page(
    application_id: int,
    request: Request,
    staff: CurrentStaff,
    scope: CurrentScope,
    session: WriteSession,
    ctx: CtxDep,
) -> Response:
    application = _load(application_service(session, ctx, scope), application_id)
    audit(session, actor_of(request, staff), "read", "application", application.id, ctx.clock.now())
    response = _detail_page(request, staff, session, ctx, application)
    session.commit()
    return response


@router.post("/staff/applications/{application_id}/status")
def change_status(
    application_id: int,
    request: Request,
    staff: CurrentStaff,
    scope: CurrentScope,
    session: WriteSession,
    ctx: CtxDep,
    status: Annotated[str, Form()] = "",
    message: Annotated[str, Form(max_length=4000)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    verify_staff_csrf(request, staff, csrf_token)
    svc = application_service(session, ctx, scope)
    application = _load(svc, application_id)
    try:
        svc.change_status(application, status, actor_of(request, staff), message)
    except IllegalTransition:
        session.rollback()
        application = _load(svc, application_id)
        return _detail_page(
            request, staff, session, ctx, application,
            error="This status change is not allowed.", status_code=409,
        )  # fmt: skip
    session.commit()
    return RedirectResponse(f"/staff/applications/{application_id}", status_code=303)


@router.post("/staff/applications/{application_id}/assignment")
def change_assignment(
    application_id: int,
    request: Request,
    staff: CurrentStaff,
    scope: CurrentScope,
    session: WriteSession,
    ctx: CtxDep,
    department_id: Annotated[str, Form()] = "",
    assignee_id: Annotated[str, Form()] = "",
    due_date: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    verify_staff_csrf(request, staff, csrf_token)
    svc = application_service(session, ctx, scope)
    application = _load(svc, application_id)
    actor = actor_of(request, staff)
    department, assignee, due = _int(department_id), _int(assignee_id), _date(due_date)
    if due_date and due is None:
        return _detail_page(
            request, staff, session, ctx, application, error="Enter a valid date.", status_code=422
        )
    try:
        if (
            department or application.department_id
        ) != application.department_id or assignee != application.assignee_id:
            svc.assign(application, actor, staff_id=assignee, department_id=department)
        if due != application.due_date:
            svc.set_due(application, due, actor)
    except ApplicationError as exc:
        session.rollback()
        application = _load(svc, application_id)
        return _detail_page(
            request, staff, session, ctx, application, error=str(exc), status_code=422
        )
    session.commit()
    return RedirectResponse(f"/staff/applications/{application_id}", status_code=303)


@router.post("/staff/applications/{application_id}/documents")
def request_document(
    application_id: int,
    request: Request,
    staff: CurrentStaff,
    scope: CurrentScope,
    session: WriteSession,
    ctx: CtxDep,
    label: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    verify_staff_csrf(request, staff, csrf_token)
    svc = application_service(session, ctx, scope)
    svc.request_document(_load(svc, application_id), label or "-", actor_of(request, staff))
    session.commit()
    return RedirectResponse(f"/staff/applications/{application_id}", status_code=303)


@router.get("/staff/applications/{application_id}/documents/{document_id}")
def download_document(
    application_id: int,
    document_id: int,
    request: Request,
    staff: CurrentStaff,
    scope: CurrentScope,
    session: WriteSession,
    ctx: CtxDep,
) -> Response:
    _load(application_service(session, ctx, scope), application_id)
    doc = session.get(ApplicationDocument, document_id)
    if doc is None or doc.application_id != application_id or doc.data is None:
        raise BookingNotFound(str(document_id))
    audit(session, actor_of(request, staff), "read", "document", doc.id, ctx.clock.now())
    session.commit()
    return Response(
        doc.data,
        media_type=doc.content_type or "application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="document-{doc.id}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.post("/staff/applications")
def open_application(
    request: Request,
    staff: CurrentStaff,
    scope: CurrentScope,
    session: WriteSession,
    ctx: CtxDep,
    procedure: Annotated[str, Form(max_length=120)] = "",
    resident_name: Annotated[str, Form(max_length=100)] = "",
    resident_email: Annotated[str, Form(max_length=200)] = "",
    department_id: Annotated[str, Form()] = "",
    due_date: Annotated[str, Form()] = "",
    booking_code: Annotated[str, Form(max_length=16)] = "",
    record_id: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Open an application, from a session when a session record (any call,
    from the wrap-up) or a booking code is given."""
    verify_staff_csrf(request, staff, csrf_token)
    svc = application_service(session, ctx, scope)
    record = session_record(session, svc.now, booking_code=booking_code, record_id=record_id)
    new = NewApplication(
        procedure,
        resident_name,
        _int(department_id) or 0,
        resident_email or None,
        "ja",
        _date(due_date),
    )
    try:
        application = svc.open(new, actor_of(request, staff), record=record)
    except ApplicationError:
        session.rollback()
        return RedirectResponse("/staff/applications?error=1", status_code=303)
    session.commit()
    return RedirectResponse(f"/staff/applications/{application.id}", status_code=303)


@router.post("/staff/applications/{application_id}/sessions")
def attach_session(
    application_id: int,
    request: Request,
    staff: CurrentStaff,
    scope: CurrentScope,
    session: WriteSession,
    ctx: CtxDep,
    booking_code: Annotated[str, Form(max_length=16)] = "",
    record_id: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Attach a session of either kind: by its record number or a booking's code."""
    verify_staff_csrf(request, staff, csrf_token)
    svc = application_service(session, ctx, scope)
    application = _load(svc, application_id)
    record = session_record(session, svc.now, booking_code=booking_code, record_id=record_id)
    if record is None:
        return _detail_page(
            request, staff, session, ctx, application,
            error="Enter a session record number or a booking code.", status_code=422,
        )  # fmt: skip
    try:
        svc.attach(application, record, actor_of(request, staff))
    except ApplicationError as exc:
        session.rollback()
        application = _load(svc, application_id)
        return _detail_page(
            request, staff, session, ctx, application, error=str(exc), status_code=422
        )
    session.commit()
    return RedirectResponse(f"/staff/applications/{application_id}", status_code=303)
