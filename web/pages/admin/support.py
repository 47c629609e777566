"""Helpers shared by the admin pages: form reading, CSRF, page rendering, and
loading the row a page is about (or the admin's 404 page)."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any, TypeVar, get_origin

from fastapi import Depends, Path, Request, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app.admin.service import AdminService
from app.auth.deps import CurrentAdmin
from app.core.context import AppContext
from app.core.deps import ReadSession, WriteSession
from scheduler.models import Staff
from web.pages.staff.auth import StaffPageRoute, console_page, verify_staff_csrf

T = TypeVar("T")


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


# -- the row a page is about ----------------------------------------------------------------------


class AdminNotFound(Exception):
    """The row an admin page is about does not exist (``AdminPageRoute`` renders the 404)."""

    def __init__(self, admin: Staff) -> None:
        super().__init__("not found")
        self.admin = admin


class AdminPageRoute(StaffPageRoute):
    """A staff page route that also turns ``AdminNotFound`` into the admin's 404 page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def admin_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except AdminNotFound as exc:
                return admin_page(request, exc.admin, "admin/not_found.html", {}, status_code=404)

        return admin_handler


def _path_parameter(kind: Any) -> Any:
    """A path parameter of this type, or as given when it says how (``IdPath``)."""
    return kind if get_origin(kind) is Annotated else Annotated[kind, Path()]


def owner_or_404(
    find: Callable[..., T | None], *, write: bool = False, **path: Any
) -> Callable[..., T]:
    """A dependency: the row ``find(session, **path)`` returns for the route's
    path parameters ``path`` (name → type, validated like the route's own), in
    the route's own session (``write``: its writer session), or the admin's 404.

    ``owner_or_404(find_kiosk, kiosk_id=int)`` for ``/admin/kiosks/{kiosk_id}/...``.
    """

    def load(admin: Staff, session: Session, **values: Any) -> T:
        row = find(session, **values)
        if row is None:
            raise AdminNotFound(admin)
        return row

    # FastAPI reads the dependency's parameters from its signature: the path
    # parameters are only known here, so the signature is built, not written.
    keyword = inspect.Parameter.KEYWORD_ONLY
    load.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("admin", keyword, annotation=CurrentAdmin),
            inspect.Parameter(
                "session", keyword, annotation=WriteSession if write else ReadSession
            ),
            *(
                inspect.Parameter(name, keyword, annotation=_path_parameter(kind))
                for name, kind in path.items()
            ),
        ]
    )
    return load
