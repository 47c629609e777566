"""The resident's status page of one application: ``/status/{token}``.

The signed token (purpose ``application``) is the only key: it names one
application by id and reference, so a tampered token, or a token of another
application used for a document that is not its own, is refused. No login,
open at any hour; the resident can reply and upload requested documents.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from sqlalchemy.orm import Session, object_session
from starlette.responses import RedirectResponse, Response

from app.core.context import AppContext
from app.core.deps import CtxDep, WriteSession
from app.core.tokens import Purpose, TokenInvalid
from app.forms.export import signed_views
from app.tracker.models import Application, ApplicationDocument
from app.tracker.service import ApplicationError, ApplicationService
from app.tracker.status_mail import StatusMail
from app.tracker.uploads import MAX_BYTES, UploadRefused, check_upload
from app.tracker.workflow import STATUS_LABELS, ApplicationStatus
from web import csrf
from web.pages.resident.support import ResidentRoute, page, request_locale

router = APIRouter(route_class=ResidentRoute, include_in_schema=False)

# Timeline entries the resident sees; assignment and due dates stay internal.
PUBLIC_KINDS = {
    "opened": "Application received",
    "status": "Status changed",
    "document-requested": "Document requested",
    "document-uploaded": "You sent a document",
    "reply": "Your message",
    "form-signed": "You signed the form",
    "form-signature-voided": "The form was changed; your signature no longer applies",
}


def application_from_token(session: Session, ctx: AppContext, token: str) -> Application:
    claims = ctx.links.verify(Purpose.APPLICATION, token, ctx.clock.now())
    application = session.get(Application, claims.get("a"))
    if application is None or application.reference != claims.get("r"):
        raise TokenInvalid("no such application")
    return application


def _view(application: Application, ctx: AppContext, locale: str) -> dict[str, Any]:
    session = object_session(application)
    assert session is not None
    events = [
        {
            "label": PUBLIC_KINDS[e.kind],
            "at": e.at.astimezone(ctx.tz).strftime("%Y-%m-%d %H:%M"),
            "iso": e.at.isoformat(),
            "status": STATUS_LABELS[ApplicationStatus(e.to_status)] if e.to_status else None,
            "message": e.message,
            "from_resident": e.actor == "resident",
        }
        for e in application.events
        if e.kind in PUBLIC_KINDS
    ]
    return {
        "reference": application.reference,
        "procedure": application.procedure,
        "status": application.status,
        "status_label": STATUS_LABELS[application.status_enum],
        "events": list(reversed(events)),
        "documents": [
            {"id": d.id, "label": d.label, "uploaded": d.uploaded_at is not None}
            for d in application.documents
        ],
        "max_mb": MAX_BYTES // (1024 * 1024),
        # What the resident signed during the call, read-only (docs/forms.md).
        "forms": [
            {**f, "signed_at": f["signed_at"].astimezone(ctx.tz).strftime("%Y-%m-%d %H:%M")}
            for f in signed_views(session, application.id)
        ],
        "locale": locale,
    }


def _page(
    request: Request,
    application: Application,
    ctx: AppContext,
    token: str,
    *,
    error: str | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "resident/status.html",
        {
            "app": _view(application, ctx, request_locale(request)),
            "token": token,
            "error": error,
            "done": done if done in ("reply", "upload") else None,
        },
        status_code=status_code,
    )


@router.get("/status/{token}")
def status_page(
    request: Request, token: str, session: WriteSession, ctx: CtxDep, done: str | None = None
) -> Response:
    application = application_from_token(session, ctx, token)
    return _page(request, application, ctx, token, done=done)


def _service(session: Session, ctx: AppContext) -> ApplicationService:
    return ApplicationService(session, StatusMail(session, ctx.links), ctx.clock.now())


@router.post("/status/{token}/reply", dependencies=[Depends(csrf.require)])
def reply(
    request: Request,
    token: str,
    session: WriteSession,
    ctx: CtxDep,
    message: Annotated[str, Form()] = "",
) -> Response:
    application = application_from_token(session, ctx, token)
    try:
        _service(session, ctx).resident_reply(application, message)
    except ApplicationError as exc:
        return _page(request, application, ctx, token, error=str(exc), status_code=422)
    session.commit()
    return RedirectResponse(f"/status/{token}?done=reply", status_code=303)


@router.post("/status/{token}/documents/{document_id}", dependencies=[Depends(csrf.require)])
def upload(
    request: Request,
    token: str,
    document_id: int,
    session: WriteSession,
    ctx: CtxDep,
    file: Annotated[UploadFile, File()],
) -> Response:
    # A plain ``def``: its database work (and the write lock) stays off the event
    # loop. The form was parsed before the route runs; the file is spooled.
    application = application_from_token(session, ctx, token)
    doc = session.get(ApplicationDocument, document_id)
    if doc is None or doc.application_id != application.id:
        # Another application's document: this link is not its key.
        raise TokenInvalid("document of another application")
    data = file.file.read(MAX_BYTES + 1)
    try:
        mime = check_upload(data)
    except UploadRefused as exc:
        status = 413 if exc.code == "too-large" else 415
        return _page(request, application, ctx, token, error=str(exc), status_code=status)
    _service(session, ctx).resident_upload(
        application, doc, file.filename or "document", mime, data
    )
    session.commit()
    return RedirectResponse(f"/status/{token}?done=upload", status_code=303)
