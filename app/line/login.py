"""LINE Login (OpenID Connect) for the booking pages opened inside LINE (the LIFF app).

The resident signs in with LINE; the verified ID token's ``sub`` is their LINE
user id, kept in a signed cookie for an hour, and a booking or waiting-list
entry made with that cookie is linked to them (``LinkVia.LOGIN``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from app.core import oidc
from app.core.context import AppContext
from app.core.oidc import RelyingParty
from app.core.tokens import Purpose, TokenError

STATE_COOKIE = "madoguchi_line_login"
USER_COOKIE = "madoguchi_line"
STATE_VALID = timedelta(seconds=oidc.STATE_VALID_SECONDS)
USER_VALID = timedelta(hours=1)


def relying_party(ctx: AppContext) -> RelyingParty | None:
    s = ctx.settings
    if not (s.line_login_channel_id and s.line_login_channel_secret):
        return None
    return RelyingParty(
        discovery_url=s.line_login_discovery(),
        client_id=s.line_login_channel_id,
        client_secret=s.line_login_channel_secret,
        clock=ctx.clock,
    )


def redirect_uri(ctx: AppContext) -> str:
    return ctx.settings.public_base_url.rstrip("/") + "/line/login/callback"


def safe_next(target: str | None) -> str:
    """Only a path of this site: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def state_cookie(ctx: AppContext, state: str, nonce: str, target: str) -> str:
    return oidc.state_cookie(ctx.tokens, ctx.clock, "line", state, nonce, target)


def read_state(ctx: AppContext, cookie: str | None, state: str | None) -> dict[str, Any]:
    return oidc.read_state(ctx.tokens, ctx.clock, "line", cookie, state)


def user_cookie(ctx: AppContext, line_user_id: str) -> str:
    return ctx.tokens.issue(
        Purpose.LINE_USER, {"u": line_user_id}, expires=ctx.clock.now() + USER_VALID
    )


def line_user(ctx: AppContext, cookie: str | None, now: datetime) -> str | None:
    """The LINE user id of a verified sign-in in this browser, if any."""
    if not cookie:
        return None
    try:
        claims = ctx.tokens.verify(Purpose.LINE_USER, cookie, now=now)
    except TokenError:
        return None
    user = claims.get("u")
    return user if isinstance(user, str) else None
