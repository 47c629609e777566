"""Applications API for staff and other municipal systems (JSON, in OpenAPI).

Every read and change is written to the audit log with the staff member and
the client address. What a caller may read or change is decided by their
scope (``app.auth.scope``) inside the tracker's service and queries. Status
changes are also sent to the configured webhook.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from app.api.schemas import DbId, IdQuery
from app.auth.deps import CurrentScope, CurrentStaff
from app.auth.scope import StaffScope
from app.core.context import AppContext
from app.core.deps import CtxDep, WriteSession
from app.core.errors import error_body
from app.core.params import MAX_ID, NO_NUL_PATTERN, IdPath, IsoDate
from app.forms import export as forms_export
from app.tracker.audit import actor_of, audit
from app.tracker.models import Application, SessionRecord
from app.tracker.queries import ApplicationFilter, csv_bytes, is_overdue, list_applications
from app.tracker.record_builder import RecordBuilder
from app.tracker.service import (
    ApplicationError,
    ApplicationService,
    NewApplication,
    application_service,
)
from app.tracker.workflow import ApplicationStatus, IllegalTransition
from scheduler.models import Booking

router = APIRouter(prefix="/api/v1/staff/applications", tags=["applications"])


class ApplicationOut(BaseModel):
    id: int
    reference: str
    procedure: str
    resident_name: str
    status: ApplicationStatus
    department_id: int
    assignee_id: int | None
    due_date: date | None
    overdue: bool
    created_at: datetime
    updated_at: datetime


class ApplicationPage(BaseModel):
    total: int
    items: list[ApplicationOut]


class TimelineEntry(BaseModel):
    at: datetime
    kind: str
    actor: str
    from_status: str | None
    to_status: str | None
    message: str


class ApplicationForm(BaseModel):
    """A form filed with the application (docs/forms.md); ``values`` are normalised."""

    id: int
    template: str
    title_ja: str
    state: str
    version: int
    signed_at: str | None
    values: dict[str, Any]


class ApplicationDetail(ApplicationOut):
    notes: str
    timeline: list[TimelineEntry]
    session_record_ids: list[int]
    booking_ids: list[int]
    forms: list[ApplicationForm]


class ApplicationIn(BaseModel):
    procedure: str = Field(min_length=1, max_length=120, pattern=NO_NUL_PATTERN)
    resident_name: str = Field(min_length=1, max_length=100, pattern=NO_NUL_PATTERN)
    department_id: DbId
    resident_email: str | None = Field(default=None, max_length=200, pattern=NO_NUL_PATTERN)
    locale: str = Field(default="ja", pattern="^(ja|en)$")
    due_date: date | None = None
    notes: str = Field(default="", max_length=20_000, pattern=NO_NUL_PATTERN)
    # Open from a session: the booking whose call it came from.
    booking_id: DbId | None = None


class StatusIn(BaseModel):
    status: ApplicationStatus
    message: str = Field(default="", max_length=4000, pattern=NO_NUL_PATTERN)


class AttachIn(BaseModel):
    booking_id: DbId


class AssignIn(BaseModel):
    assignee_id: DbId | None = None
    department_id: DbId | None = None


def application_out(application: Application, ctx: AppContext) -> ApplicationOut:
    today = ctx.clock.now().astimezone(ctx.tz).date()
    return ApplicationOut(
        id=application.id,
        reference=application.reference,
        procedure=application.procedure,
        resident_name=application.resident_name,
        status=ApplicationStatus(application.status),
        department_id=application.department_id,
        assignee_id=application.assignee_id,
        due_date=application.due_date,
        overdue=is_overdue(application, today),
        created_at=application.created_at,
        updated_at=application.updated_at,
    )


def detail(application: Application, svc: ApplicationService, ctx: AppContext) -> ApplicationDetail:
    records = svc.records(application)
    return ApplicationDetail(
        **application_out(application, ctx).model_dump(),
        notes=application.notes,
        timeline=[
            TimelineEntry(
                at=e.at,
                kind=e.kind,
                actor=e.actor,
                from_status=e.from_status,
                to_status=e.to_status,
                message=e.message,
            )
            for e in application.events
        ],
        session_record_ids=[r.id for r in records],
        booking_ids=[r.booking_id for r in records if r.booking_id is not None],
        forms=[
            ApplicationForm(**f)
            for f in forms_export.forms_of(svc.session, [application.id]).get(application.id, [])
        ],
    )


def _refused(exc: Exception) -> JSONResponse:
    if isinstance(exc, IllegalTransition):
        return JSONResponse(error_body(exc.code, str(exc)), status_code=409)
    assert isinstance(exc, ApplicationError)
    return JSONResponse(
        error_body(exc.code, str(exc), [{"field": exc.field, "message": str(exc)}]),
        status_code=422,
    )


def _load(svc: ApplicationService, application_id: int) -> Application | JSONResponse:
    application = svc.get(application_id)  # Forbidden outside the caller's scope
    if application is None:
        return JSONResponse(error_body("not-found", "No such application."), status_code=404)
    return application


def _change(
    session: Session,
    ctx: AppContext,
    scope: StaffScope,
    application_id: int,
    change: Callable[[ApplicationService, Application], object],
) -> ApplicationDetail | JSONResponse:
    """Load the application, apply ``change`` through the service and commit.

    A refusal (illegal move, invalid field) answers 409/422 and commits
    nothing: the request's session is rolled back when it closes.
    """
    svc = application_service(session, ctx, scope)
    application = _load(svc, application_id)
    if isinstance(application, JSONResponse):
        return application
    try:
        change(svc, application)
    except (IllegalTransition, ApplicationError) as exc:
        return _refused(exc)
    result = detail(application, svc, ctx)
    session.commit()
    return result


@router.get("", response_model=ApplicationPage)
def list_(
    request: Request,
    staff: CurrentStaff,
    scope: CurrentScope,
    session: WriteSession,
    ctx: CtxDep,
    status: ApplicationStatus | None = None,
    department_id: IdQuery = None,
    assignee_id: IdQuery = None,
    overdue: bool = False,
    created_from: IsoDate | None = None,
    created_to: IsoDate | None = None,
    q: Annotated[str, Query(max_length=100, pattern=NO_NUL_PATTERN)] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> ApplicationPage:
    f = ApplicationFilter(status, department_id, assignee_id, overdue, created_from, created_to, q)
    now = ctx.clock.now()
    apps, total = list_applications(
        session, f, scope, now.astimezone(ctx.tz).date(), ctx.tz, limit=limit, offset=offset
    )
    audit(session, actor_of(request, staff), "read", "application-list", "-", now, repr(f))
    session.commit()
    return ApplicationPage(total=total, items=[application_out(a, ctx) for a in apps])


@router.get("/export.csv", response_class=Response)
def export_csv(
    request: Request,
    staff: CurrentStaff,
    scope: CurrentScope,
    session: WriteSession,
    ctx: CtxDep,
    status: ApplicationStatus | None = None,
    department_id: IdQuery = None,
    assignee_id: IdQuery = None,
    overdue: bool = False,
    created_from: IsoDate | None = None,
    created_to: IsoDate | None = None,
    q: Annotated[str, Query(max_length=100, pattern=NO_NUL_PATTERN)] = "",
) -> Response:
    """CSV for Excel in Japan: UTF-8 with BOM, CRLF, every field quoted."""
    f = ApplicationFilter(status, department_id, assignee_id, overdue, created_from, created_to, q)
    now = ctx.clock.now()
    today = now.astimezone(ctx.tz).date()
    apps, _ = list_applications(session, f, scope, today, ctx.tz, limit=100_000)
    audit(session, actor_of(request, staff), "export", "application-list", "-", now, repr(f))
    session.commit()
    name = f"applications-{now.astimezone(ctx.tz):%Y%m%d}.csv"
    return Response(
        csv_bytes(apps, ctx.tz, forms_export.csv_column(session, [a.id for a in apps])),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("", response_model=ApplicationDetail, status_code=201)
def create(
    request: Request,
    body: ApplicationIn,
    staff: CurrentStaff,
    scope: CurrentScope,
    session: WriteSession,
    ctx: CtxDep,
) -> ApplicationDetail | JSONResponse:
    svc = application_service(session, ctx, scope)
    record: SessionRecord | None = None
    if body.booking_id is not None:
        booking = session.get(Booking, body.booking_id)
        if booking is None:
            return _refused(ApplicationError("No such booking.", field="booking_id"))
        record = RecordBuilder(session).sync_booking(booking, ctx.clock.now())
    new = NewApplication(
        body.procedure,
        body.resident_name,
        body.department_id,
        body.resident_email,
        body.locale,
        body.due_date,
        body.notes,
    )
    try:
        application = svc.open(new, actor_of(request, staff), record=record)
    except ApplicationError as exc:
        return _refused(exc)
    result = detail(application, svc, ctx)
    session.commit()
    return result


@router.get("/{application_id}", response_model=ApplicationDetail)
def read(
    request: Request,
    application_id: IdPath,
    staff: CurrentStaff,
    scope: CurrentScope,
    session: WriteSession,
    ctx: CtxDep,
) -> ApplicationDetail | JSONResponse:
    svc = application_service(session, ctx, scope)
    application = _load(svc, application_id)
    if isinstance(application, JSONResponse):
        return application
    audit(session, actor_of(request, staff), "read", "application", application.id, svc.now)
    result = detail(application, svc, ctx)
    session.commit()
    return result


@router.post("/{application_id}/status", response_model=ApplicationDetail)
def change_status(
    request: Request,
    application_id: IdPath,
    body: StatusIn,
    staff: CurrentStaff,
    scope: CurrentScope,
    session: WriteSession,
    ctx: CtxDep,
) -> ApplicationDetail | JSONResponse:
    actor = actor_of(request, staff)
    return _change(
        session,
        ctx,
        scope,
        application_id,
        lambda svc, application: svc.change_status(
            application, body.status.value, actor, body.message
        ),
    )


@router.post("/{application_id}/assign", response_model=ApplicationDetail)
def assign(
    request: Request,
    application_id: IdPath,
    body: AssignIn,
    staff: CurrentStaff,
    scope: CurrentScope,
    session: WriteSession,
    ctx: CtxDep,
) -> ApplicationDetail | JSONResponse:
    actor = actor_of(request, staff)
    return _change(
        session,
        ctx,
        scope,
        application_id,
        lambda svc, application: svc.assign(
            application, actor, staff_id=body.assignee_id, department_id=body.department_id
        ),
    )


@router.post("/{application_id}/sessions", response_model=ApplicationDetail)
def attach_session(
    request: Request,
    application_id: IdPath,
    body: AttachIn,
    staff: CurrentStaff,
    scope: CurrentScope,
    session: WriteSession,
    ctx: CtxDep,
) -> ApplicationDetail | JSONResponse:
    """Attach the session record of a booking's call to an existing application."""
    actor = actor_of(request, staff)

    def attach(svc: ApplicationService, application: Application) -> None:
        booking = session.get(Booking, body.booking_id)
        if booking is None:
            raise ApplicationError("No such booking.", field="booking_id")
        svc.attach(application, RecordBuilder(session).sync_booking(booking, svc.now), actor)

    return _change(session, ctx, scope, application_id, attach)
