"""Staff sign-in pages through the city's directory: start, and the provider's callback."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from app.auth import oidc as staff_oidc
from app.auth.sessions import start_staff_session
from app.core import oidc
from app.core.deps import CtxDep, ReadSession
from web import csrf
from web.pages.staff.auth import login_options, safe_next
from web.templating import render

router = APIRouter(include_in_schema=False)

STATE_COOKIE = "madoguchi_staff_oidc"


def _refused(request: Request, code: str, message: str, status: int = 400) -> Response:
    response = render(
        request,
        "staff/login.html",
        {
            "next": "/staff",
            "csrf_token": csrf.issue(request),
            "error": message,
            "login": "",
            **login_options(request),
        },
        status_code=status,
    )
    response.headers["X-Madoguchi-Error"] = code
    response.delete_cookie(STATE_COOKIE, path="/staff/login/oidc")
    return csrf.set_cookie(request, response)


@router.get("/staff/login/oidc")
def start(request: Request, ctx: CtxDep, next: str | None = None) -> Response:
    rp = staff_oidc.relying_party(ctx)
    if rp is None:
        return _refused(request, "oidc-off", "Sign-in through the directory is not set up.", 404)
    state, nonce = oidc.new_state()
    try:
        url = rp.authorization_url(staff_oidc.redirect_uri(ctx), state, nonce)
    except oidc.OidcError as exc:
        return _refused(request, exc.code, "The directory could not be reached.", 502)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        STATE_COOKIE,
        oidc.state_cookie(ctx.tokens, ctx.clock, staff_oidc.FLOW, state, nonce, safe_next(next)),
        max_age=oidc.STATE_VALID_SECONDS,
        httponly=True,
        samesite="lax",  # the provider's redirect back is a cross-site navigation
        secure=ctx.settings.public_base_url.startswith("https://"),
        path="/staff/login/oidc",
    )
    return response


@router.get("/staff/login/oidc/callback")
def callback(
    request: Request,
    ctx: CtxDep,
    session: ReadSession,
    code: str = "",
    state: str = "",
    error: str = "",
) -> Response:
    rp = staff_oidc.relying_party(ctx)
    if rp is None:
        return _refused(request, "oidc-off", "Sign-in through the directory is not set up.", 404)
    try:
        if error or not code:
            raise oidc.OidcError("login-declined", "The sign-in was declined.")
        started = oidc.read_state(
            ctx.tokens, ctx.clock, staff_oidc.FLOW, request.cookies.get(STATE_COOKIE), state
        )
        claims = rp.verify(rp.exchange(code, staff_oidc.redirect_uri(ctx)), str(started["n"]))
        staff = staff_oidc.staff_for(session, ctx, claims)
    except oidc.OidcError as exc:
        return _refused(request, exc.code, "Sign-in through the directory failed.", 403)
    # A short write of its own: the provider round-trip above ran on a read session.
    with ctx.writer_sessions() as db:
        start_staff_session(request, db, staff.id, ctx)
        db.commit()
    # A page, not a redirect: this response ends a navigation that began at the
    # provider, and browsers withhold the SameSite=Strict session cookie on a
    # redirect in it; the page's own navigation to ``next`` is same-site.
    signed_in = render(
        request, "staff/signed_in.html", {"next": safe_next(str(started.get("next")))}
    )
    signed_in.delete_cookie(STATE_COOKIE, path="/staff/login/oidc")
    return signed_in
