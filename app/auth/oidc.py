"""Staff sign-in through the city's directory (Entra ID, Keycloak …) with OpenID Connect.

The directory's ID token is verified (app/core/oidc.py); the value of the
configured claim (``MADOGUCHI_STAFF_OIDC_LOGIN_CLAIM``, e.g.
``preferred_username`` or ``email``) must equal an active staff member's
login. madoguchi keeps its own staff list (roles, departments, hours): the
directory proves who someone is, not what they may do here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.context import AppContext
from app.core.oidc import OidcError, RelyingParty
from scheduler.models import Staff

FLOW = "staff"


def relying_party(ctx: AppContext) -> RelyingParty | None:
    s = ctx.settings
    if not (s.staff_oidc_discovery_url and s.staff_oidc_client_id):
        return None
    return RelyingParty(
        discovery_url=s.staff_oidc_discovery_url,
        client_id=s.staff_oidc_client_id,
        client_secret=s.staff_oidc_client_secret or "",
        clock=ctx.clock,
        scope="openid profile email",
    )


def redirect_uri(ctx: AppContext) -> str:
    return ctx.settings.public_base_url.rstrip("/") + "/staff/login/oidc/callback"


def staff_for(session: Session, ctx: AppContext, claims: dict[str, Any]) -> Staff:
    """The active staff member the directory's claim names; OidcError otherwise."""
    value = claims.get(ctx.settings.staff_oidc_login_claim)
    if not isinstance(value, str) or not value.strip():
        raise OidcError("claim-missing", "The directory did not say who you are.")
    staff = session.scalar(select(Staff).where(Staff.login == value.strip()))
    if staff is None or not staff.active:
        raise OidcError("unknown-staff", "Your directory account has no staff account here.")
    return staff
