"""The app's abuse limits: which rules exist and where requests are counted.

Booking and signed-link endpoints are counted per client IP (and bookings
also per resident email); staff logins lock an account after repeated
failures and slow down an IP that tries many accounts; a kiosk refuses more
codes after too many wrong ones. Over a limit the caller gets 429 with
``Retry-After`` (``app/core/errors.py``). Behind a reverse proxy the client IP is
the one the proxy forwards (uvicorn ``--proxy-headers``, docs/deploy.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi import Depends, Request

from app.core.context import AppContext
from app.core.deps import get_ctx
from app.core.ratelimit import RateLimited, RateLimiter, Rule
from app.core.settings import Settings


@dataclass(frozen=True)
class AbuseRules:
    booking_per_ip: Rule
    booking_per_email: Rule
    token_per_ip: Rule
    login_per_account: Rule
    login_per_ip: Rule
    kiosk_codes: Rule

    @classmethod
    def from_settings(cls, s: Settings) -> AbuseRules:
        lockout = timedelta(minutes=s.login_lockout_minutes)
        return cls(
            booking_per_ip=Rule("booking-ip", s.rate_limit_bookings_per_ip, timedelta(minutes=10)),
            booking_per_email=Rule(
                "booking-email", s.rate_limit_bookings_per_email, timedelta(hours=1)
            ),
            token_per_ip=Rule("token-ip", s.rate_limit_token_requests_per_ip, timedelta(minutes=1)),
            login_per_account=Rule("login-account", s.login_max_failures, lockout),
            login_per_ip=Rule("login-ip", s.login_max_failures_per_ip, lockout),
            kiosk_codes=Rule("kiosk-code", s.kiosk_max_wrong_codes, timedelta(minutes=10)),
        )


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def limiter(ctx: AppContext) -> RateLimiter:
    return ctx.limiter


def rules(ctx: AppContext) -> AbuseRules:
    # Cheap to build; reading settings each time lets tests change them.
    return AbuseRules.from_settings(ctx.settings)


def _ip_limited(ctx: AppContext, ip: str) -> bool:
    return ip not in ctx.settings.rate_limit_exempt_ips


def check_booking(ctx: AppContext, request: Request, email: str | None) -> None:
    """Count one booking attempt from this IP (and for this email)."""
    now = ctx.clock.now()
    ip = client_ip(request)
    if _ip_limited(ctx, ip):
        limiter(ctx).check(rules(ctx).booking_per_ip, ip, now)
    if email:
        limiter(ctx).check(rules(ctx).booking_per_email, email, now)


def limit_token_requests(request: Request, ctx: AppContext = Depends(get_ctx)) -> None:  # noqa: B008
    """Dependency for signed-link endpoints: guessing tokens costs requests."""
    ip = client_ip(request)
    if _ip_limited(ctx, ip):
        limiter(ctx).check(rules(ctx).token_per_ip, ip, ctx.clock.now())


def login_locked(ctx: AppContext, request: Request, login: str) -> int | None:
    """Seconds until this login (or this IP) may try again; None when allowed."""
    now = ctx.clock.now()
    r = rules(ctx)
    ip = client_ip(request)
    locked = limiter(ctx).blocked(r.login_per_account, login, now)
    if locked is None and _ip_limited(ctx, ip):
        locked = limiter(ctx).blocked(r.login_per_ip, ip, now)
    return locked


def login_failed(ctx: AppContext, request: Request, login: str) -> None:
    now = ctx.clock.now()
    r = rules(ctx)
    limiter(ctx).hit(r.login_per_account, login, now)
    ip = client_ip(request)
    if _ip_limited(ctx, ip):
        limiter(ctx).hit(r.login_per_ip, ip, now)


def login_succeeded(ctx: AppContext, login: str) -> None:
    limiter(ctx).reset(rules(ctx).login_per_account, login, ctx.clock.now())


def kiosk_code_locked(ctx: AppContext, kiosk_id: int) -> None:
    retry = limiter(ctx).blocked(rules(ctx).kiosk_codes, f"kiosk:{kiosk_id}", ctx.clock.now())
    if retry is not None:
        raise RateLimited("kiosk-code", retry)


def kiosk_code_wrong(ctx: AppContext, kiosk_id: int) -> None:
    limiter(ctx).hit(rules(ctx).kiosk_codes, f"kiosk:{kiosk_id}", ctx.clock.now())


__all__ = [
    "AbuseRules",
    "RateLimited",
    "check_booking",
    "client_ip",
    "kiosk_code_locked",
    "kiosk_code_wrong",
    "limit_token_requests",
    "login_failed",
    "login_locked",
    "login_succeeded",
]
