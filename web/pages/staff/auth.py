"""Staff login and logout pages, and the route class every staff page uses.

The JSON API answers a missing login with 401; a person at a browser should
land on the login form instead, and come back where they were after logging
in. ``StaffPageRoute`` makes that translation for page routers only, so the
API keeps its machine-readable errors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from sqlalchemy import select

from app.auth.errors import Forbidden, NotLoggedIn
from app.auth.login import check_password
from app.auth.sessions import end_staff_session, start_staff_session
from app.core import abuse
from app.core.deps import CtxDep, WriteSession
from app.core.passwords import hasher
from scheduler.errors import BookingNotFound
from scheduler.models import Staff
from web import csrf
from web.templating import render

log = logging.getLogger(__name__)

LOGIN_PATH = "/staff/login"
HOME_PATH = "/staff"


def safe_next(target: str | None) -> str:
    """Only a path on this site: an open redirect would help phishing."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return HOME_PATH
    return target


class StaffPageRoute(APIRoute):
    """Turns ``NotLoggedIn`` into a redirect to the login page, ``Forbidden`` into a page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except NotLoggedIn:
                target = request.url.path
                if request.url.query:
                    target += "?" + request.url.query
                if request.method != "GET":
                    # The form's data is gone anyway; come back to the page.
                    target = HOME_PATH
                return RedirectResponse(
                    f"{LOGIN_PATH}?next={quote(target, safe='/')}", status_code=303
                )
            except Forbidden:
                return render(request, "staff/forbidden.html", status_code=403)
            except csrf.CsrfError as exc:
                log.info("csrf check failed on %s: %s", request.url.path, exc.reason)
                if "application/json" in request.headers.get("accept", ""):
                    return JSONResponse({"error": {"code": "csrf"}}, status_code=403)
                response = render(
                    request, "staff/expired.html", {"csrf_token": csrf.issue(request)},
                    status_code=403,
                )  # fmt: skip
                return csrf.set_cookie(request, response)
            except BookingNotFound:
                return render(request, "staff/not_found.html", status_code=404)
            except RequestValidationError:
                # A mistyped address (/admin/services/abc, ?week=soon): a page,
                # not the API's JSON error.
                return render(request, "staff/invalid.html", status_code=400)

        return page_handler


router = APIRouter(route_class=StaffPageRoute, include_in_schema=False)


LOCKED_MESSAGE = "Too many failed logins. Please wait a few minutes and try again."
LOGIN_SWITCHED_OFF = "Password login is switched off. Sign in through the city's directory."


def login_options(request: Request) -> dict[str, bool]:
    """Which ways to sign in the login page offers (docs/security.md)."""
    settings = request.app.state.ctx.settings
    return {
        "password_login": bool(settings.staff_password_login),
        "directory_login": bool(
            settings.staff_oidc_discovery_url and settings.staff_oidc_client_id
        ),
    }


def _login_refused(
    request: Request,
    login: str,
    next: str,
    message: str,
    status: int,
    retry_after: int | None = None,
) -> Response:
    response = render(
        request,
        "staff/login.html",
        {
            "next": safe_next(next),
            "csrf_token": csrf.issue(request),
            "error": message,
            "login": login,
            **login_options(request),
        },
        status_code=status,
    )
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return csrf.set_cookie(request, response)


@router.get(LOGIN_PATH)
def login_form(request: Request, next: str | None = None) -> Response:
    if isinstance(request.session.get("staff_id"), int):
        return RedirectResponse(safe_next(next), status_code=303)
    response = render(
        request,
        "staff/login.html",
        {
            "next": safe_next(next),
            "csrf_token": csrf.issue(request),
            "error": None,
            **login_options(request),
        },
    )
    return csrf.set_cookie(request, response)


@router.post(LOGIN_PATH)
def login(
    request: Request,
    session: WriteSession,
    ctx: CtxDep,
    login: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = HOME_PATH,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    csrf.verify(request, csrf_token)
    if not ctx.settings.staff_password_login:
        return _login_refused(request, login, next, LOGIN_SWITCHED_OFF, 403)
    locked = abuse.login_locked(ctx, request, login.strip())
    if locked is not None:
        log.info("staff login refused: locked for %s s", locked)
        return _login_refused(request, login, next, LOCKED_MESSAGE, 429, locked)
    staff = session.scalar(select(Staff).where(Staff.login == login.strip()))
    if not check_password(staff, password) or staff is None:
        log.info("staff login refused")
        abuse.login_failed(ctx, request, login.strip())
        return _login_refused(request, login, next, "The login or password is wrong.", 401)
    if hasher.check_needs_rehash(staff.password_hash or ""):
        staff.password_hash = hasher.hash(password)
    start_staff_session(request, session, staff.id, ctx)
    session.commit()
    abuse.login_succeeded(ctx, login.strip())
    log.info("staff %s logged in (page)", staff.id)
    return RedirectResponse(safe_next(next), status_code=303)


def staff_scope(staff_id: int) -> str:
    """CSRF scope of a logged-in staff member: a token of one login is not another's."""
    return f"staff:{staff_id}"


def verify_staff_csrf(request: Request, staff: Staff, token: str) -> None:
    csrf.verify(request, token, scope=staff_scope(staff.id))


@router.post("/staff/logout")
def logout(
    request: Request,
    session: WriteSession,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    staff_id = request.session.get("staff_id")
    if isinstance(staff_id, int):
        # Already logged out (an expired session) needs no check.
        csrf.verify(request, csrf_token, scope=staff_scope(staff_id))
    end_staff_session(request, session)
    session.commit()
    return RedirectResponse(LOGIN_PATH, status_code=303)


def console_page(
    request: Request,
    template: str,
    staff: Staff,
    nav: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> Response:
    """Render a logged-in console page: navigation, logout form, CSRF token."""
    values: dict[str, Any] = {
        "staff": staff,
        "nav": nav,
        "csrf_token": csrf.issue(request, scope=staff_scope(staff.id)),
    }
    values.update(context or {})
    response = render(request, template, values, status_code=status_code)
    return csrf.set_cookie(request, response)
