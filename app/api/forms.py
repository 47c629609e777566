"""Forms during a call over JSON: staff fill in and push, the resident confirms and signs.

The contract (paths, bodies, codes, the view and its hash, the push over
signaling) is docs/forms.md. Staff routes take a login or an API key and are
scoped by ``app.forms.access``; resident routes take the resident's own join
token in ``X-Join-Token`` for the form's room. Every refusal answers in the
one error envelope and stores nothing: the request's session rolls back.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.schemas import DbId
from app.auth.deps import CurrentScope, CurrentStaff
from app.auth.errors import Forbidden
from app.auth.scope import StaffScope
from app.calls.tickets import CALL_TICKET_TTL
from app.core.context import AppContext
from app.core.deps import CtxDep, ReadSession, WriteSession
from app.core.errors import error_body, request_locale
from app.core.i18n import gettext
from app.core.params import IdPath
from app.core.tokens import Purpose, TokenInvalid
from app.counter.models import QueueTicket
from app.forms import access
from app.forms import export as forms_export
from app.forms.models import Form, FormPush
from app.forms.service import Call, FormError, Forms
from app.forms.signature import MAX_BYTES as SIGNATURE_MAX_BYTES
from app.forms.validation import FieldError, validate
from app.tracker.audit import actor_of, audit
from app.tracker.models import Application
from app.tracker.service import ApplicationService
from app.tracker.status_mail import StatusMail
from scheduler.errors import BookingNotFound
from scheduler.models import Booking, FormTemplate

router = APIRouter(prefix="/api/v1", tags=["forms"])

HEX64 = r"^[0-9a-f]{64}$"


# -- schemas ------------------------------------------------------------------------------


class TemplateSummary(BaseModel):
    slug: str
    version: int
    service_id: int
    department_id: int
    title_ja: str
    title_en: str


class TemplateOut(TemplateSummary):
    definition: dict[str, Any]


class FieldProblem(BaseModel):
    field: str
    code: str
    message: str


class PushOut(BaseModel):
    id: int
    form_version: int
    pushed_at: datetime
    view_hash: str
    state: str
    confirmed_pages: list[int]
    page_count: int
    document_url: str
    name: str
    view: dict[str, Any]


class SignatureOut(BaseModel):
    id: int
    signed_at: datetime
    view_hash: str
    voided_at: datetime | None
    void_reason: str
    booking_code: str | None
    ticket_id: int | None


class FormOut(BaseModel):
    id: int
    template: str
    template_version: int
    title_ja: str
    title_en: str
    department_id: int
    booking_code: str | None
    ticket_id: int | None
    application_id: int | None
    application_reference: str | None
    version: int
    state: Literal["draft", "pushed", "signed", "declined"]
    values: dict[str, Any]
    missing: list[FieldProblem]
    definition: dict[str, Any]
    push: PushOut | None
    signatures: list[SignatureOut]
    erased: bool
    created_at: datetime
    updated_at: datetime


class FormIn(BaseModel):
    template: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9-]+$")
    booking_code: str | None = Field(default=None, min_length=1, max_length=16)
    ticket_id: DbId | None = None
    application_id: DbId | None = None


class SaveIn(BaseModel):
    version: int = Field(ge=1, le=1_000_000)
    values: dict[str, Any]


class PushIn(BaseModel):
    version: int = Field(ge=1, le=1_000_000)


class HashIn(BaseModel):
    view_hash: str = Field(pattern=HEX64)


class ResidentFormOut(BaseModel):
    kind: Literal["form-view"] = "form-view"
    form_id: int
    push_id: int
    view_hash: str
    view: dict[str, Any]
    confirmed_pages: list[int]
    page_count: int
    state: str


class SignedFormOut(BaseModel):
    form_id: int
    title_ja: str
    title_en: str
    signed_at: datetime
    view_hash: str
    view: dict[str, Any]


# -- helpers ----------------------------------------------------------------------------------


def _problems(errors: list[FieldError], locale: str) -> list[dict[str, str]]:
    return [
        {"field": e.path, "code": e.code, "message": gettext(locale, e.message)} for e in errors
    ]


def refused(exc: FormError, locale: str) -> JSONResponse:
    return JSONResponse(
        error_body(exc.code, gettext(locale, str(exc)), _problems(exc.errors, locale) or None),
        status_code=exc.status,
    )


def _service(session: Session, ctx: AppContext) -> Forms:
    now = ctx.clock.now()
    applications = ApplicationService(session, StatusMail(session, ctx.links), now)
    return Forms(session, now, ctx.tz, applications)


def _template_summary(t: FormTemplate) -> TemplateSummary:
    return TemplateSummary(
        slug=t.slug,
        version=t.version,
        service_id=t.service_id,
        department_id=t.service.department_id,
        title_ja=t.title_ja,
        title_en=t.title_en,
    )


def document_url(ctx: AppContext, push: FormPush) -> str:
    """The signed link the staff page sends in the signaling ``document`` message."""
    token = ctx.tokens.issue(
        Purpose.DOCUMENT, {"f": push.id}, expires=ctx.clock.now() + CALL_TICKET_TTL
    )
    return f"/api/v1/documents/{token}"


def _push_out(ctx: AppContext, form: Form, push: FormPush) -> PushOut:
    return PushOut(
        id=push.id,
        form_version=push.form_version,
        pushed_at=push.pushed_at,
        view_hash=push.view_hash,
        state=push.state,
        confirmed_pages=list(push.confirmed_pages),
        page_count=push.page_count,
        document_url=document_url(ctx, push),
        name=str(form.definition["title_ja"]),
        view=json.loads(push.view) if push.view else {},
    )


def form_out(session: Session, ctx: AppContext, svc: Forms, form: Form, locale: str) -> FormOut:
    push = svc.latest_push(form)
    live = push if push is not None and push.state != "superseded" else None
    application = session.get(Application, form.application_id) if form.application_id else None
    booking = session.get(Booking, form.booking_id) if form.booking_id else None
    codes: dict[int, str] = {}

    def code(booking_id: int | None) -> str | None:
        if booking_id is None:
            return None
        if booking_id not in codes:
            found = session.get(Booking, booking_id)
            codes[booking_id] = found.code if found else ""
        return codes[booking_id] or None

    missing = [] if form.erased_at else validate(form.definition, form.values).missing
    return FormOut(
        id=form.id,
        template=str(form.definition["slug"]),
        template_version=form.template_version,
        title_ja=str(form.definition["title_ja"]),
        title_en=str(form.definition["title_en"]),
        department_id=form.department_id,
        booking_code=booking.code if booking else None,
        ticket_id=form.ticket_id,
        application_id=form.application_id,
        application_reference=application.reference if application else None,
        version=form.version,
        state=form.state,  # type: ignore[arg-type]
        values=form.values,
        missing=[FieldProblem(**p) for p in _problems(missing, locale)],
        definition=form.definition,
        push=_push_out(ctx, form, live) if live is not None else None,
        signatures=[
            SignatureOut(
                id=s.id,
                signed_at=s.signed_at,
                view_hash=s.view_hash,
                voided_at=s.voided_at,
                void_reason=s.void_reason,
                booking_code=code(s.booking_id),
                ticket_id=s.ticket_id,
            )
            for s in svc.signatures(form)
        ],
        erased=form.erased_at is not None,
        created_at=form.created_at,
        updated_at=form.updated_at,
    )


def _staff_form(session: Session, scope: StaffScope, form_id: int) -> Form:
    form = session.get(Form, form_id)
    if form is None:
        raise FormError("form-not-found", 404, "No such form.")
    access.require_form(scope, session, form)
    return form


def _call(session: Session, booking_code: str | None, ticket_id: int | None) -> Call:
    if (booking_code is None) == (ticket_id is None):
        raise FormError(
            "invalid-call",
            422,
            "Give either booking_code or ticket_id.",
            [FieldError("", "required")],
        )
    if ticket_id is not None:
        ticket = session.get(QueueTicket, ticket_id)
        if ticket is None:
            raise FormError("ticket-not-found", 404, "No such walk-in ticket.")
        booking = session.get(Booking, ticket.booking_id) if ticket.booking_id else None
        return Call(room=ticket.room_id, booking=booking, ticket=ticket)
    booking = session.scalar(select(Booking).where(Booking.code == booking_code))
    if booking is None:
        raise BookingNotFound(str(booking_code))
    return Call(room=booking.room_id, booking=booking)


def _form_errors(request: Request, run: Any) -> Any:
    """Run ``run()``; a ``FormError`` becomes its answer (the session is rolled back)."""
    try:
        return run()
    except FormError as exc:
        return refused(exc, request_locale(request))


# -- staff ------------------------------------------------------------------------------------


@router.get("/staff/forms/templates", response_model=list[TemplateSummary])
def list_templates(
    staff: CurrentStaff,
    session: ReadSession,
    ctx: CtxDep,
    service_id: Annotated[DbId | None, Query()] = None,
) -> list[TemplateSummary]:
    return [_template_summary(t) for t in _service(session, ctx).templates(service_id)]


@router.get("/staff/forms/templates/{slug}", response_model=TemplateOut)
def read_template(
    request: Request, slug: str, staff: CurrentStaff, session: ReadSession, ctx: CtxDep
) -> TemplateOut | JSONResponse:
    def run() -> TemplateOut:
        t = _service(session, ctx).template(slug)
        return TemplateOut(**_template_summary(t).model_dump(), definition=t.definition)

    result: TemplateOut | JSONResponse = _form_errors(request, run)
    return result


@router.post("/staff/forms", response_model=FormOut, status_code=201)
def start_form(
    request: Request,
    body: FormIn,
    staff: CurrentStaff,
    scope: CurrentScope,
    session: WriteSession,
    ctx: CtxDep,
) -> FormOut | JSONResponse:
    def run() -> FormOut | JSONResponse:
        svc = _service(session, ctx)
        template = svc.template(body.template)
        call = _call(session, body.booking_code, body.ticket_id)
        access.require_call(scope, call)
        application = None
        if body.application_id is not None:
            application = session.get(Application, body.application_id)
            if application is None:
                return JSONResponse(error_body("not-found", "No such application."), 404)
            scope.require_department(application.department_id)
        form = svc.start(template, call, actor_of(request, staff), application)
        out = form_out(session, ctx, svc, form, request_locale(request))
        session.commit()
        return out

    result: FormOut | JSONResponse = _form_errors(request, run)
    return result


@router.get("/staff/forms", response_model=list[FormOut])
def list_forms(
    request: Request,
    staff: CurrentStaff,
    scope: CurrentScope,
    session: WriteSession,
    ctx: CtxDep,
    booking_code: Annotated[str | None, Query(min_length=1, max_length=16)] = None,
    ticket_id: Annotated[DbId | None, Query()] = None,
    application_id: Annotated[DbId | None, Query()] = None,
) -> list[FormOut] | JSONResponse:
    def run() -> list[FormOut] | JSONResponse:
        svc = _service(session, ctx)
        query = select(Form).order_by(Form.id)
        if application_id is not None:
            application = session.get(Application, application_id)
            if application is None:
                return JSONResponse(error_body("not-found", "No such application."), 404)
            scope.require_department(application.department_id)
            query = query.where(Form.application_id == application_id)
        else:
            call = _call(session, booking_code, ticket_id)
            access.require_call(scope, call)
            query = query.where(Form.room == call.room)
        forms = list(session.scalars(query))
        actor = actor_of(request, staff)
        locale = request_locale(request)
        out = [form_out(session, ctx, svc, f, locale) for f in forms]
        for form in forms:
            audit(session, actor, "read", "form", form.id, svc.now)
        session.commit()
        return out

    result: list[FormOut] | JSONResponse = _form_errors(request, run)
    return result


# ``:int`` keeps "/staff/forms/templates" out of these routes: a PUT there is a 405,
# not a form id that fails validation.
@router.get("/staff/forms/{form_id:int}", response_model=FormOut)
def read_form(
    request: Request,
    form_id: IdPath,
    staff: CurrentStaff,
    scope: CurrentScope,
    session: WriteSession,
    ctx: CtxDep,
) -> FormOut | JSONResponse:
    def run() -> FormOut:
        svc = _service(session, ctx)
        form = _staff_form(session, scope, form_id)
        audit(session, actor_of(request, staff), "read", "form", form.id, svc.now)
        out = form_out(session, ctx, svc, form, request_locale(request))
        session.commit()
        return out

    result: FormOut | JSONResponse = _form_errors(request, run)
    return result


@router.put("/staff/forms/{form_id:int}", response_model=FormOut)
def save_form(
    request: Request,
    form_id: IdPath,
    body: SaveIn,
    staff: CurrentStaff,
    scope: CurrentScope,
    session: WriteSession,
    ctx: CtxDep,
) -> FormOut | JSONResponse:
    def run() -> FormOut:
        svc = _service(session, ctx)
        form = _staff_form(session, scope, form_id)
        svc.save(form, body.version, body.values, actor_of(request, staff))
        out = form_out(session, ctx, svc, form, request_locale(request))
        session.commit()
        return out

    result: FormOut | JSONResponse = _form_errors(request, run)
    return result


@router.post("/staff/forms/{form_id:int}/push", response_model=PushOut)
def push_form(
    request: Request,
    form_id: IdPath,
    body: PushIn,
    staff: CurrentStaff,
    scope: CurrentScope,
    session: WriteSession,
    ctx: CtxDep,
) -> PushOut | JSONResponse:
    def run() -> PushOut:
        svc = _service(session, ctx)
        form = _staff_form(session, scope, form_id)
        push = svc.push(form, body.version, actor_of(request, staff))
        out = _push_out(ctx, form, push)
        session.commit()
        return out

    result: PushOut | JSONResponse = _form_errors(request, run)
    return result


@router.get(
    "/staff/forms/{form_id:int}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The signed PDF"}},
)
def form_pdf(
    request: Request,
    form_id: IdPath,
    staff: CurrentStaff,
    scope: CurrentScope,
    session: WriteSession,
    ctx: CtxDep,
) -> Response:
    def run() -> Response:
        svc = _service(session, ctx)
        form = _staff_form(session, scope, form_id)
        signature = svc.valid_signature(form)
        doc = svc.signed_document(signature) if signature is not None else None
        if doc is None or doc.data is None:
            raise FormError("form-not-signed", 409, "This form has no valid signature.")
        audit(
            session,
            actor_of(request, staff),
            "export",
            "form",
            form.id,
            svc.now,
            f"pdf of signature {signature.id if signature else '-'}",
        )
        session.commit()
        return Response(
            doc.data,
            media_type="application/pdf",
            headers={
                "Cache-Control": "no-store",
                "Content-Disposition": f'attachment; filename="{doc.filename}"',
                "X-Content-Type-Options": "nosniff",
            },
        )

    result: Response = _form_errors(request, run)
    return result


# -- the resident ---------------------------------------------------------------------------


def visitor_claims(
    request: Request,
    ctx: CtxDep,
    form_id: IdPath,
    x_join_token: Annotated[str, Header()] = "",
) -> dict[str, Any]:
    """The join token's claims (a bad token: 403, expired: 410, by the token handler).

    ``form_id`` is declared here too so that FastAPI validates it first: an id
    out of range is a 422 whatever the token, as on every other route.
    """
    del form_id
    if not x_join_token:
        raise Forbidden
    return ctx.tokens.verify(Purpose.JOIN, x_join_token, now=ctx.clock.now())


VisitorClaims = Annotated[dict[str, Any], Depends(visitor_claims)]


def _visitor_form(session: Session, claims: dict[str, Any], form_id: int) -> Form:
    form = session.get(Form, form_id)
    if form is None:
        raise FormError("form-not-found", 404, "No such form.")
    access.require_visitor(claims, form)
    return form


def resident_out(form: Form, push: FormPush) -> ResidentFormOut:
    return ResidentFormOut(
        form_id=form.id,
        push_id=push.id,
        view_hash=push.view_hash,
        view=json.loads(push.view) if push.view else {},
        confirmed_pages=list(push.confirmed_pages),
        page_count=push.page_count,
        state=push.state,
    )


@router.get("/call/forms/{form_id}", response_model=ResidentFormOut)
def resident_view(
    request: Request, form_id: IdPath, claims: VisitorClaims, session: ReadSession, ctx: CtxDep
) -> ResidentFormOut | JSONResponse:
    def run() -> ResidentFormOut:
        form = _visitor_form(session, claims, form_id)
        push = _service(session, ctx).latest_push(form)
        if push is None or push.state == "superseded" or not push.view:
            raise FormError("form-not-pushed", 409, "This form has not been shown to you yet.")
        return resident_out(form, push)

    result: ResidentFormOut | JSONResponse = _form_errors(request, run)
    return result


@router.post("/call/forms/{form_id}/pages/{page}/confirm", response_model=ResidentFormOut)
def confirm_page(
    request: Request,
    form_id: IdPath,
    page: Annotated[int, Path(ge=0, le=1000)],
    body: HashIn,
    claims: VisitorClaims,
    session: WriteSession,
    ctx: CtxDep,
) -> ResidentFormOut | JSONResponse:
    def run() -> ResidentFormOut:
        form = _visitor_form(session, claims, form_id)
        push = _service(session, ctx).confirm_page(form, body.view_hash, page)
        out = resident_out(form, push)
        session.commit()
        return out

    result: ResidentFormOut | JSONResponse = _form_errors(request, run)
    return result


async def _signature_body(request: Request, session: ReadSession) -> bytes:
    """The PNG, read before the route takes the database's write lock (see app/api/documents.py)."""
    await run_in_threadpool(session.commit)
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > SIGNATURE_MAX_BYTES:
            break  # refused as too large, without reading the rest
    return bytes(data)


@router.post("/call/forms/{form_id}/signature", response_model=ResidentFormOut, status_code=201)
def sign_form(
    request: Request,
    form_id: IdPath,
    view_hash: Annotated[str, Query(pattern=HEX64)],
    claims: VisitorClaims,
    data: Annotated[bytes, Depends(_signature_body)],
    session: WriteSession,
    ctx: CtxDep,
) -> ResidentFormOut | JSONResponse:
    def run() -> ResidentFormOut:
        form = _visitor_form(session, claims, form_id)
        svc = _service(session, ctx)
        svc.sign(form, view_hash, data, svc.city_name())
        push = svc.latest_push(form)
        assert push is not None
        out = resident_out(form, push)
        session.commit()
        return out

    result: ResidentFormOut | JSONResponse = _form_errors(request, run)
    return result


@router.post("/call/forms/{form_id}/decline", response_model=ResidentFormOut)
def decline_form(
    request: Request,
    form_id: IdPath,
    body: HashIn,
    claims: VisitorClaims,
    session: WriteSession,
    ctx: CtxDep,
) -> ResidentFormOut | JSONResponse:
    def run() -> ResidentFormOut:
        form = _visitor_form(session, claims, form_id)
        push = _service(session, ctx).decline(form, body.view_hash)
        out = resident_out(form, push)
        session.commit()
        return out

    result: ResidentFormOut | JSONResponse = _form_errors(request, run)
    return result


# -- the resident's status page --------------------------------------------------------------


@router.get("/status/{token}/forms", response_model=list[SignedFormOut])
def status_forms(token: str, session: ReadSession, ctx: CtxDep) -> list[SignedFormOut]:
    claims = ctx.links.verify(Purpose.APPLICATION, token, ctx.clock.now())
    application = session.get(Application, claims.get("a"))
    if application is None or application.reference != claims.get("r"):
        raise TokenInvalid("no such application")
    return [SignedFormOut(**v) for v in forms_export.signed_views(session, application.id)]


# Used by the documents route: a pushed form's link answers the resident's view.
def pushed_view(session: Session, push_id: int) -> ResidentFormOut | None:
    push = session.get(FormPush, push_id)
    if push is None or not push.view:
        return None
    form = session.get(Form, push.form_id)
    if form is None:
        return None
    return resident_out(form, push)
