"""CSRF protection for HTML forms: a signed double-submit token.

Every browser gets a random secret in a cookie; each form carries a token
that is that secret signed (itsdangerous, with a timestamp) by the app's
secret key. A POST is accepted only when the form's token verifies, is not
too old, and was made for the secret in this browser's cookie. A forged
cross-site form has no way to read the cookie or make a matching token, and
a token copied from another browser does not match this browser's cookie.
No server-side state is needed, so it works for residents without an
account and for logged-in staff alike, on one node or many.

API::

    from web import csrf

    # GET: put a token in the form (<input type="hidden" name="csrf_token">),
    # then make sure the browser holds the matching cookie.
    token = csrf.issue(request)                  # or csrf.issue(request, scope="staff:7")
    response = render(request, "form.html", {"csrf_token": token})
    csrf.set_cookie(request, response)           # no-op unless issue() made a new secret

    # POST: refuse the request unless the form carries a valid token.
    @router.post("/thing", dependencies=[Depends(csrf.require)])
    def thing(...): ...
    # ...or by hand, e.g. with a scope bound to the logged-in staff member:
    csrf.verify(request, token, scope="staff:7")  # raises csrf.CsrfError

``CsrfError`` is an ``HTTPException`` with status 403, so an unhandled one is
refused with 403 by FastAPI's default handler; page routers may catch it
first to show a friendly page. ``scope`` optionally binds a token to one
purpose or user (the same scope must be given to ``issue`` and ``verify``;
``require`` uses the empty scope). Tokens are valid for ``MAX_AGE_SECONDS``.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from fastapi import HTTPException, Request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from starlette.responses import Response

__all__ = [
    "FIELD",
    "MAX_AGE_SECONDS",
    "CsrfError",
    "cookie_name",
    "issue",
    "require",
    "set_cookie",
    "verify",
]

# The form field every protected form carries.
FIELD = "csrf_token"
# Long enough for a resident to fill a form slowly (or come back after lunch).
MAX_AGE_SECONDS = 8 * 3600
# The cookie outlives one token so an open tab keeps working when reloaded.
COOKIE_MAX_AGE_SECONDS = 7 * 24 * 3600
_COOKIE = "madoguchi_csrf"
_SALT = "madoguchi/csrf"
_STATE_NEW_SECRET = "csrf_new_secret"  # noqa: S105 (a request.state key, not a secret)


class CsrfError(HTTPException):
    """The form's CSRF token is missing, expired, tampered or not this browser's."""

    def __init__(self, reason: str) -> None:
        super().__init__(status_code=403, detail="CSRF check failed")
        # Why it failed, for logs and tests; never shown to users.
        self.reason = reason


def _secure(request: Request) -> bool:
    ctx: Any = getattr(request.app.state, "ctx", None)
    base = ctx.settings.public_base_url if ctx is not None else str(request.base_url)
    return str(base).startswith("https://")


def cookie_name(request: Request) -> str:
    # Over HTTPS the __Host- prefix stops a sibling subdomain from planting
    # its own secret in our cookie (cookie tossing).
    return "__Host-" + _COOKIE if _secure(request) else _COOKIE


def _serializer(request: Request) -> URLSafeTimedSerializer:
    state = request.app.state
    serializer: URLSafeTimedSerializer | None = getattr(state, "csrf_serializer", None)
    if serializer is None:
        serializer = URLSafeTimedSerializer(state.ctx.settings.effective_secret, salt=_SALT)
        state.csrf_serializer = serializer
    return serializer


def _browser_secret(request: Request) -> str | None:
    value = request.cookies.get(cookie_name(request))
    # Only our own shape is accepted; anything else is replaced by a new secret.
    if value and 20 <= len(value) <= 64 and value.replace("-", "").replace("_", "").isalnum():
        return value
    return None


def issue(request: Request, *, scope: str = "") -> str:
    """A token for a form in this response; creates the browser's secret if needed."""
    secret: str | None = getattr(request.state, _STATE_NEW_SECRET, None)
    if secret is None:
        secret = _browser_secret(request)
    if secret is None:
        secret = secrets.token_urlsafe(24)
        setattr(request.state, _STATE_NEW_SECRET, secret)
    return str(_serializer(request).dumps([secret, scope]))


def set_cookie(request: Request, response: Response) -> Response:
    """Send the browser's secret if ``issue`` created one during this request."""
    secret: str | None = getattr(request.state, _STATE_NEW_SECRET, None)
    if secret is not None:
        response.set_cookie(
            cookie_name(request),
            secret,
            max_age=COOKIE_MAX_AGE_SECONDS,
            path="/",
            httponly=True,
            secure=_secure(request),
            # Lax: the cookie must exist when a resident arrives from a mail link.
            samesite="lax",
        )
    return response


def verify(request: Request, token: str | None, *, scope: str = "") -> None:
    """Raise ``CsrfError`` unless ``token`` is valid for this browser and scope."""
    if not token:
        raise CsrfError("missing token")
    secret = _browser_secret(request)
    if secret is None:
        raise CsrfError("missing cookie")
    try:
        payload = _serializer(request).loads(token, max_age=MAX_AGE_SECONDS)
    except SignatureExpired as exc:
        raise CsrfError("expired token") from exc
    except BadSignature as exc:
        raise CsrfError("bad signature") from exc
    if not (isinstance(payload, list) and len(payload) == 2):
        raise CsrfError("bad payload")
    token_secret, token_scope = payload
    if not isinstance(token_secret, str) or not hmac.compare_digest(token_secret, secret):
        raise CsrfError("token of another browser")
    if token_scope != scope:
        raise CsrfError("token for another scope")


async def require(request: Request) -> None:
    """FastAPI dependency: the submitted form must carry a valid token (empty scope)."""
    form = await request.form()
    value = form.get(FIELD)
    verify(request, value if isinstance(value, str) else None)
