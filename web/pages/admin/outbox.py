"""Admin page: mail and webhook deliveries that failed or got stuck, with a retry button."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from app.auth.deps import CurrentAdmin
from app.core import outbox as mail
from app.core.deps import CtxDep, ReadSession, WriteSession
from web.pages.admin.support import FormDep, admin_page, checked_form
from web.pages.staff.auth import StaffPageRoute

log = logging.getLogger(__name__)
router = APIRouter(route_class=StaffPageRoute, include_in_schema=False)


@router.get("/admin/outbox")
def outbox_page(
    request: Request, admin: CurrentAdmin, session: ReadSession, ctx: CtxDep
) -> Response:
    now = ctx.clock.now()
    rows = mail.troubled(session, now)
    return admin_page(
        request,
        admin,
        "admin/outbox.html",
        {"rows": rows, "now": now, "tz": ctx.tz, "retried": "retried" in request.query_params},
    )


@router.post("/admin/outbox/{row_id}/retry")
def outbox_retry(
    request: Request,
    row_id: int,
    admin: CurrentAdmin,
    form: FormDep,
    session: WriteSession,
    ctx: CtxDep,
) -> Response:
    checked_form(request, admin, form)
    if mail.retry(session, row_id, ctx.clock.now()):
        session.commit()
        log.info("admin %s: outbox %s queued again", admin.id, row_id)
    return RedirectResponse("/admin/outbox?retried=1", status_code=303)
