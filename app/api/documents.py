"""Documents at the counter over HTTP: photos (with consent) and pushed documents.

``POST /api/v1/staff/bookings/{code}/photos`` (body: the image, ``Content-Type``
``image/jpeg|png|webp``)
    A still the staff page grabbed from the resident's video. 409
    ``consent-required`` unless the resident's latest on-screen answer in this
    call granted it (a ``consent`` call event, docs/signaling.md).
``POST /api/v1/staff/bookings/{code}/documents?name=...`` (body: PDF or image)
    A document or form to show on the resident's or kiosk's screen; the page
    then sends the returned ``url`` in a signaling ``document`` message.
    Both uploads are typed by their content, not the declared type (422
    ``document-type`` when either is not an allowed image or PDF).
``GET /api/v1/documents/{token}``
    The file, for whoever holds the signed link (itsdangerous, purpose
    ``document``), until its retention ends; then 410. A pushed form's link
    (claims ``f``: the push) answers the form's frozen view as JSON
    (docs/forms.md). Shown inline only when
    its content is a JPEG, PNG, WebP or PDF; anything else is an attachment.

Uploads travel as plain request bodies (no multipart parser needed) and are
kept in the database by ``app.documents``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.call_team import may_join
from app.api.forms import pushed_view
from app.auth.deps import CurrentStaff
from app.auth.errors import Forbidden
from app.calls.documents import (
    INLINE_TYPES,
    MAX_BYTES,
    DocumentError,
    Documents,
    content_type_of,
)
from app.calls.models import CallDocument
from app.core.deps import CtxDep, ReadSession, WriteSession
from app.core.errors import error_body
from app.core.tokens import Purpose, TokenError, TokenExpired
from scheduler.errors import BookingNotFound
from scheduler.models import Booking

router = APIRouter(prefix="/api/v1", tags=["documents"])

_MESSAGES = {
    "consent-required": "The resident has not agreed on screen to a photo.",
    "document-type": "This kind of file cannot be used here.",
    "document-size": "The file is empty or too large.",
}


class DocumentOut(BaseModel):
    id: int
    name: str
    url: str  # signed, valid until the document is deleted


def _booking(session: WriteSession, code: str, staff: CurrentStaff) -> Booking:
    booking = session.scalar(select(Booking).where(Booking.code == code))
    if booking is None:
        raise BookingNotFound(code)
    if not may_join(staff, booking):
        raise Forbidden
    return booking


def _documents(ctx: CtxDep, session: Session) -> Documents:
    return Documents(session, timedelta(days=ctx.settings.document_retention_days))


async def _body(request: Request, staff: CurrentStaff, session: ReadSession) -> bytes:
    """The upload, read before the route takes the database's write lock.

    The read session that found ``staff`` gives its connection back first, so
    slow uploads hold no pooled connection (and the route, a plain ``def``,
    does its database work in a worker thread, never on the event loop).
    """
    await run_in_threadpool(session.commit)
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BYTES:
            break  # refused as too large below, without reading the rest
    return bytes(data)


Upload = Annotated[bytes, Depends(_body)]


def _out(ctx: CtxDep, doc: CallDocument) -> DocumentOut:
    token = ctx.tokens.issue(Purpose.DOCUMENT, {"d": doc.id}, expires=doc.delete_after)
    return DocumentOut(id=doc.id, name=doc.name, url=f"/api/v1/documents/{token}")


def _refused(exc: DocumentError) -> JSONResponse:
    status = 409 if exc.code == "consent-required" else 422
    return JSONResponse(error_body(exc.code, _MESSAGES[exc.code]), status_code=status)


@router.post("/staff/bookings/{code}/photos", status_code=201, response_model=DocumentOut)
def take_photo(
    code: str,
    staff: CurrentStaff,
    data: Upload,
    session: WriteSession,
    ctx: CtxDep,
    content_type: Annotated[str, Header()] = "",
) -> DocumentOut | JSONResponse:
    booking = _booking(session, code, staff)
    try:
        doc = _documents(ctx, session).add_photo(
            booking, content_type.split(";")[0].strip(), data, staff.id, ctx.clock.now()
        )
    except DocumentError as exc:
        return _refused(exc)
    session.commit()
    return _out(ctx, doc)


@router.post("/staff/bookings/{code}/documents", status_code=201, response_model=DocumentOut)
def push_document(
    code: str,
    staff: CurrentStaff,
    data: Upload,
    session: WriteSession,
    ctx: CtxDep,
    name: Annotated[str, Query(min_length=1, max_length=256)],
    content_type: Annotated[str, Header()] = "",
) -> DocumentOut | JSONResponse:
    booking = _booking(session, code, staff)
    try:
        doc = _documents(ctx, session).add_pushed(
            booking, name, content_type.split(";")[0].strip(), data, staff.id, ctx.clock.now()
        )
    except DocumentError as exc:
        return _refused(exc)
    session.commit()
    return _out(ctx, doc)


@router.get("/documents/{token}")
def download(token: str, session: ReadSession, ctx: CtxDep) -> Response:
    gone = JSONResponse(error_body("document-gone", "This document is no longer kept."), 410)
    try:
        claims = ctx.tokens.verify(Purpose.DOCUMENT, token, now=ctx.clock.now())
    except TokenExpired:
        return gone
    except TokenError:
        return JSONResponse(error_body("token-invalid", "This link is not valid."), 403)
    if "f" in claims:
        # A pushed form: the frozen view the resident checks and signs (docs/forms.md).
        view = pushed_view(session, int(claims["f"]))
        if view is None:
            return gone
        return JSONResponse(view.model_dump(mode="json"), headers={"Cache-Control": "no-store"})
    doc = _documents(ctx, session).get(int(claims["d"]), ctx.clock.now())
    if doc is None:
        return gone
    # Typed again by content: a row stored before uploads were checked must
    # not be shown inline on its declared word either.
    detected = content_type_of(doc.data)
    inline = detected in INLINE_TYPES and detected == doc.content_type
    disposition = "inline" if inline else "attachment"
    return Response(
        doc.data,
        media_type=doc.content_type if inline else "application/octet-stream",
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(doc.name)}",
            "X-Content-Type-Options": "nosniff",
        },
    )
