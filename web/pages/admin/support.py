"""Helpers shared by the admin pages: form reading, CSRF, page rendering."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app.admin.service import AdminService
from app.core.context import AppContext
from scheduler.models import Staff
from web.pages.staff.auth import console_page, verify_staff_csrf


async def form_data(request: Request) -> AsyncIterator[FormData]:
    """The submitted form, read on the event loop so the route itself can stay sync.

    Used as a context so uploaded files are closed when the request is done.
    """
    async with request.form() as form:
        yield form


FormDep = Annotated[FormData, Depends(form_data)]


def checked_form(request: Request, admin: Staff, form: FormData) -> FormData:
    token = form.get("csrf_token")
    verify_staff_csrf(request, admin, token if isinstance(token, str) else "")
    return form


def admin_page(
    request: Request,
    admin: Staff,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
) -> Response:
    return console_page(request, template, admin, "admin", context, status_code=status_code)


def notice_of(request: Request) -> str | None:
    # Only fixed messages: the URL picks one, it never supplies text.
    notices = {"saved": "Saved.", "deleted": "Deleted.", "signed-out": "Signed out everywhere."}
    return notices.get(request.query_params.get("done", ""))


def service_of(session: Session, ctx: AppContext) -> AdminService:
    return AdminService(session, ctx.tz)
