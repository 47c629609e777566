"""Security behaviour of the running app: lockouts, session expiry, rate limits,
headers and CSRF coverage. Time moves by setting the app's clock, never by sleeping."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from kiosk_page_helpers import ELEVEN, kiosk_path, submit_code  # type: ignore[import-not-found]
from tests_app_helpers import book  # type: ignore[import-not-found]

from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.settings import Settings
from app.main import create_app

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def api_login(client: TestClient, who: str = "staff0", password: str = "pw") -> Any:
    return client.post("/api/v1/auth/login", json={"login": who, "password": password})


def page_login(client: TestClient, who: str, password: str) -> Any:
    match = CSRF.search(client.get("/staff/login").text)
    assert match
    return client.post(
        "/staff/login",
        data={"login": who, "password": password, "csrf_token": match.group(1), "next": "/staff"},
        follow_redirects=False,
    )


# -- login throttling and lockout ------------------------------------------------------


def test_an_account_locks_after_repeated_failures_and_unlocks_later(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any
) -> None:
    for _ in range(ctx.settings.login_max_failures):
        assert api_login(client, "staff0", "wrong").status_code == 401
    # Now even the right password is refused, with the time to wait.
    locked = api_login(client, "staff0", "pw")
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "too-many-requests"
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    # Another account is not affected.
    assert api_login(client, "staff1", "pw").status_code == 200
    clock.moment += timedelta(minutes=ctx.settings.login_lockout_minutes)
    assert api_login(client, "staff0", "pw").status_code == 200


def test_a_success_clears_the_failures_of_the_account(
    client: TestClient, ctx: AppContext, city: Any
) -> None:
    for _ in range(ctx.settings.login_max_failures - 1):
        assert api_login(client, "staff0", "wrong").status_code == 401
    assert api_login(client, "staff0", "pw").status_code == 200
    for _ in range(ctx.settings.login_max_failures - 1):
        assert api_login(client, "staff0", "wrong").status_code == 401
    assert api_login(client, "staff0", "pw").status_code == 200


def test_one_ip_trying_many_accounts_is_stopped(
    client: TestClient, ctx: AppContext, city: Any
) -> None:
    ctx.settings.login_max_failures_per_ip = 4
    for i in range(4):
        assert api_login(client, f"nobody{i}", "guess").status_code == 401
    assert api_login(client, "staff2", "pw").status_code == 429


def test_the_login_page_shares_the_lockout(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any
) -> None:
    for _ in range(ctx.settings.login_max_failures):
        assert page_login(client, "admin", "wrong").status_code == 401
    locked = page_login(client, "admin", "pw")
    assert locked.status_code == 429
    assert "retry-after" in locked.headers
    assert "ログインの失敗が続いたため" in locked.text
    assert api_login(client, "admin", "pw").status_code == 429
    clock.moment += timedelta(minutes=ctx.settings.login_lockout_minutes)
    assert page_login(client, "admin", "pw").status_code == 303


# -- session expiry --------------------------------------------------------------------


def test_an_idle_session_expires(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any
) -> None:
    assert api_login(client).status_code == 200
    clock.moment += timedelta(minutes=ctx.settings.session_idle_minutes - 1)
    assert client.get("/api/v1/auth/me").status_code == 200
    # The request above counted as activity: the idle clock restarted there.
    clock.moment += timedelta(minutes=ctx.settings.session_idle_minutes - 1)
    assert client.get("/api/v1/auth/me").status_code == 200
    clock.moment += timedelta(minutes=ctx.settings.session_idle_minutes + 1)
    assert client.get("/api/v1/auth/me").status_code == 401
    # The expired session is gone, not just refused once.
    clock.moment -= timedelta(minutes=ctx.settings.session_idle_minutes + 1)
    assert client.get("/api/v1/auth/me").status_code == 401


def test_an_active_session_still_ends_after_its_absolute_lifetime(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any
) -> None:
    assert api_login(client).status_code == 200
    step = timedelta(minutes=ctx.settings.session_idle_minutes // 2)
    elapsed = timedelta()
    while elapsed + step <= timedelta(minutes=ctx.settings.session_max_age_minutes):
        clock.moment += step
        elapsed += step
        assert client.get("/api/v1/auth/me").status_code == 200
    clock.moment += step
    assert client.get("/api/v1/auth/me").status_code == 401


def test_staff_pages_send_an_expired_session_to_the_login_page(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any
) -> None:
    assert page_login(client, "staff0", "pw").status_code == 303
    assert client.get("/staff", follow_redirects=False).status_code == 200
    clock.moment += timedelta(minutes=ctx.settings.session_idle_minutes + 1)
    r = client.get("/staff", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/staff/login")


# -- rate limits on booking and signed-link endpoints ----------------------------------


def test_bookings_are_limited_per_email(client: TestClient, ctx: AppContext, city: Any) -> None:
    ctx.settings.rate_limit_bookings_per_email = 2
    starts = ["2026-12-01T10:00:00+09:00", "2026-12-01T11:00:00+09:00"]
    for start in starts:
        assert book(client, city.consult_id, start).status_code == 201
    refused = book(client, city.consult_id, "2026-12-01T14:00:00+09:00")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    # Another resident from the same address is still served.
    other = book(client, city.consult_id, "2026-12-01T14:00:00+09:00", email="jiro@example.jp")
    assert other.status_code == 201


def test_bookings_are_limited_per_ip(client: TestClient, ctx: AppContext, city: Any) -> None:
    ctx.settings.rate_limit_bookings_per_ip = 2
    for i in range(2):
        r = book(client, city.consult_id, "2026-12-02T10:00:00+09:00", email=f"r{i}@example.jp")
        assert r.status_code in (201, 409)
    r = book(client, city.consult_id, "2026-12-02T11:00:00+09:00", email="r9@example.jp")
    assert r.status_code == 429
    # The waiting list counts as booking too.
    w = client.post(
        "/api/v1/waitlist",
        json={
            "service_id": city.consult_id,
            "day": "2026-12-02",
            "name": "住民",
            "email": "w@example.jp",
        },
    )
    assert w.status_code == 429


def test_signed_link_endpoints_are_limited_per_ip(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any
) -> None:
    ctx.settings.rate_limit_token_requests_per_ip = 5
    for _ in range(5):
        assert client.get("/api/v1/bookings/guess").status_code == 403
    limited = client.get("/api/v1/calendar/staff/guess/feed.ics")
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) <= 60
    clock.moment += timedelta(minutes=1)
    assert client.get("/api/v1/bookings/guess").status_code == 403


def test_the_resident_booking_form_is_limited_too(
    client: TestClient, ctx: AppContext, city: Any
) -> None:
    ctx.settings.rate_limit_bookings_per_ip = 1
    form = client.get(f"/services/{city.consult_id}/book?start=2026-12-01T10:00:00%2B09:00")
    match = CSRF.search(form.text)
    assert match, form.text[:500]
    data = {"csrf_token": match.group(1), "start": "2026-12-01T10:00:00+09:00", "name": "住民"}
    client.post(f"/services/{city.consult_id}/book", data=data)
    r = client.post(f"/services/{city.consult_id}/book", data=data)
    assert r.status_code == 429
    assert "試行回数が多すぎます" in r.text


def test_wrong_kiosk_codes_are_limited(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any
) -> None:
    ctx.settings.kiosk_max_wrong_codes = 3
    clock.moment = ELEVEN
    path = kiosk_path(ctx, city.kiosk_id)
    for _ in range(3):
        assert submit_code(client, path, "MDG-ZZZZZZ").status_code == 422
    r = submit_code(client, path, "MDG-ZZZZZZ")
    assert r.status_code == 429
    assert 'data-error="kiosk-too-many-codes"' in r.text
    clock.moment += timedelta(minutes=10)
    assert submit_code(client, path, "MDG-ZZZZZZ").status_code == 422


# -- headers and CSRF ------------------------------------------------------------------


def test_security_headers_and_hsts_only_over_https(ctx: AppContext, city: Any) -> None:
    with TestClient(create_app(ctx)) as plain:
        r = plain.get("/")
    assert "strict-transport-security" not in r.headers
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "camera=(self)" in r.headers["permissions-policy"]
    assert "microphone=(self)" in r.headers["permissions-policy"]
    settings = Settings(
        secret_key=ctx.settings.secret_key, public_base_url="https://madoguchi.city.example"
    )
    https_ctx = AppContext(settings=settings, engine=ctx.engine, clock=ctx.clock)
    with TestClient(create_app(https_ctx), base_url="https://madoguchi.city.example") as tls:
        r = tls.get("/healthz")
    assert r.headers["strict-transport-security"].startswith("max-age=63072000")


def _routes(routes: list[Any], prefix: str = "") -> list[tuple[str, APIRoute]]:
    found: list[tuple[str, APIRoute]] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:  # FastAPI keeps included routers nested
            extra = getattr(route.include_context, "prefix", "") or ""
            found += _routes(inner.routes, prefix + extra)
        elif isinstance(route, APIRoute):
            found.append((prefix + route.path, route))
    return found


def _state_changing_page_routes() -> list[tuple[str, str]]:
    app = create_app(
        AppContext.from_settings(Settings(database_url="sqlite://", secret_key="k" * 40))
    )
    found = []
    for path, route in _routes(app.routes):
        if not path.startswith("/api/"):
            for method in route.methods - {"GET", "HEAD"}:
                found.append((method, path))
    return sorted(found)


PAGE_FORMS = _state_changing_page_routes()


def test_every_state_changing_page_route_refuses_a_forged_form(
    client: TestClient, city: Any
) -> None:
    """Logged in as an administrator, a form without a valid token is refused.

    403 (CSRF refused, or a forged signed link checked first), 401 where the
    route needs a credential the request lacks (a kiosk device's heartbeat), or
    404/410 for a link that names nothing; never a change made.
    """
    assert len(PAGE_FORMS) > 20  # the walk found the page routers
    assert api_login(client, "admin", "pw").status_code == 200
    examples = {"day": "2026-12-01", "kind": "departments"}
    accepted = []
    for method, path in PAGE_FORMS:
        url = re.sub(r"\{([^}]+)\}", lambda m: examples.get(m.group(1), "1"), path)
        r = client.request(method, url, data={"csrf_token": "forged"}, follow_redirects=False)
        if r.status_code not in (401, 403, 404, 410):
            accepted.append((method, path, r.status_code))
    assert accepted == []


def test_json_endpoints_refuse_cross_site_simple_requests(client: TestClient, city: Any) -> None:
    """A cross-site form can only send text/plain or form bodies; the API reads JSON only,
    and the staff session cookie is SameSite=Strict."""
    body = '{"login": "admin", "password": "pw"}'
    r = client.post("/api/v1/auth/login", content=body, headers={"content-type": "text/plain"})
    assert r.status_code == 422
    ok = api_login(client, "admin", "pw")
    assert "samesite=strict" in ok.headers["set-cookie"].lower()
    assert "httponly" in ok.headers["set-cookie"].lower()


def test_exempt_addresses_skip_per_ip_limits_but_not_per_email(
    client: TestClient, ctx: AppContext, city: Any
) -> None:
    ctx.settings.rate_limit_bookings_per_ip = 1
    ctx.settings.rate_limit_bookings_per_email = 2
    ctx.settings.rate_limit_exempt_ips = ["testclient"]  # TestClient's address
    emails = ["a@example.jp", "b@example.jp", "a@example.jp"]
    codes = [
        book(client, city.consult_id, "2026-12-03T10:00:00+09:00", email=e).status_code
        for e in emails
    ]
    assert 429 not in codes
    assert (
        book(client, city.consult_id, "2026-12-03T11:00:00+09:00", email="a@example.jp").status_code
        == 429
    )


def test_a_nul_character_in_input_is_a_422_not_a_database_error(
    client: TestClient, city: Any
) -> None:
    r = client.post("/api/v1/auth/login", json={"login": "\x00", "password": "pw"})
    assert r.status_code == 422
    assert r.json()["error"]["fields"]


def test_every_id_in_a_path_is_bounded_before_it_reaches_the_database(
    client: TestClient, city: Any
) -> None:
    """An id past 32 bits names no row: 422, never an overflow in the driver (500)."""
    assert api_login(client, "admin", "pw").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    tried = []
    for path, operations in paths.items():
        for method, operation in operations.items():
            integers = {
                p["name"]
                for p in operation.get("parameters", [])
                if p["in"] == "path" and p["schema"].get("type") == "integer"
            }
            if not integers:
                continue
            url = re.sub(
                r"\{([a-z_]+)\}",
                lambda m, ints=integers: str(2**40) if m.group(1) in ints else "x",  # type: ignore[misc]
                path,
            )
            r = client.request(method.upper(), url, json={})
            tried.append((method, path))
            assert r.status_code == 422, (method, path, r.status_code, r.text[:200])
    assert len(tried) > 10
