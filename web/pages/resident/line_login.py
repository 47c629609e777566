"""LINE Login pages: ``/line/login`` starts it, ``/line/login/callback`` finishes it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from app.core.deps import CtxDep
from app.core.oidc import OidcError, new_state
from app.line import login
from web.pages.resident.support import ErrorKind, ResidentRoute, error_page

router = APIRouter(route_class=ResidentRoute, include_in_schema=False)

LOGIN_FAILED = ErrorKind(
    400,
    "line-login-failed",
    "LINE Login did not complete",
    "We could not confirm your LINE account, so nothing was linked.",
    "Please open the booking page from LINE again. You can also book without LINE.",
)
LOGIN_OFF = ErrorKind(
    404,
    "line-login-off",
    "LINE Login is not available",
    "This city has not set up LINE Login.",
    "You can book from the top page without LINE.",
)


def _cookie_flags(ctx: CtxDep) -> dict[str, object]:
    # Lax, not Strict: the provider's redirect back is a cross-site navigation.
    return {
        "httponly": True,
        "samesite": "lax",
        "secure": ctx.settings.public_base_url.startswith("https://"),
        "path": "/",
    }


@router.get("/line/login")
def start(request: Request, ctx: CtxDep, next: str = "/") -> Response:
    rp = login.relying_party(ctx)
    if rp is None:
        return error_page(request, LOGIN_OFF)
    state, nonce = new_state()
    try:
        url = rp.authorization_url(login.redirect_uri(ctx), state, nonce)
    except OidcError:
        return error_page(request, LOGIN_FAILED)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        login.STATE_COOKIE,
        login.state_cookie(ctx, state, nonce, login.safe_next(next)),
        max_age=int(login.STATE_VALID.total_seconds()),
        **_cookie_flags(ctx),  # type: ignore[arg-type]
    )
    return response


@router.get("/line/login/callback")
def callback(
    request: Request, ctx: CtxDep, code: str = "", state: str = "", error: str = ""
) -> Response:
    rp = login.relying_party(ctx)
    if rp is None:
        return error_page(request, LOGIN_OFF)
    try:
        if error or not code:
            raise OidcError("login-declined", "The sign-in was declined.")
        started = login.read_state(ctx, request.cookies.get(login.STATE_COOKIE), state)
        id_token = rp.exchange(code, login.redirect_uri(ctx))
        claims = rp.verify(id_token, str(started["n"]))
    except OidcError as exc:
        refused = error_page(request, LOGIN_FAILED)
        refused.headers["X-Madoguchi-Error"] = exc.code
        refused.delete_cookie(login.STATE_COOKIE, path="/")
        return refused
    response = RedirectResponse(login.safe_next(str(started.get("next"))), status_code=303)
    response.delete_cookie(login.STATE_COOKIE, path="/")
    response.set_cookie(
        login.USER_COOKIE,
        login.user_cookie(ctx, str(claims["sub"])),
        max_age=int(login.USER_VALID.total_seconds()),
        **_cookie_flags(ctx),  # type: ignore[arg-type]
    )
    return response
