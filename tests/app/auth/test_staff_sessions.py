"""Server-side staff sessions: logout, a password change and an administrator end them.

A cookie captured before any of these must stop working (issue 18, finding 5);
the JSON login spends a hash check on unknown logins like the page (finding 4).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.auth import login as login_module
from app.auth.login import check_password, dummy_hash
from app.auth.models import StaffSession
from app.auth.sessions import password_hashes, revoke_changed_passwords
from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.passwords import hasher
from app.main import create_app
from scheduler.models import Staff

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
COOKIE = "madoguchi_staff"


def api_login(client: TestClient, who: str = "staff0") -> str:
    r = client.post("/api/v1/auth/login", json={"login": who, "password": "pw"})
    assert r.status_code == 200, r.text
    cookie = client.cookies.get(COOKIE)
    assert cookie
    return cookie


def me_with(ctx: AppContext, cookie: str) -> int:
    """``/api/v1/auth/me`` from another browser holding a copy of ``cookie``."""
    with TestClient(create_app(ctx)) as thief:
        thief.cookies.set(COOKIE, cookie)
        return thief.get("/api/v1/auth/me").status_code


def sessions_of(ctx: AppContext, staff_id: int) -> int:
    with ctx.sessions() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(StaffSession)
                .where(StaffSession.staff_id == staff_id)
            )
            or 0
        )


def test_a_cookie_captured_before_logout_is_refused(
    client: TestClient, ctx: AppContext, city: Any
) -> None:
    cookie = api_login(client)
    assert me_with(ctx, cookie) == 200
    assert client.post("/api/v1/auth/logout").status_code == 204
    assert me_with(ctx, cookie) == 401
    assert sessions_of(ctx, city.staff_ids[0]) == 0


def test_page_logout_ends_the_session_too(client: TestClient, ctx: AppContext, city: Any) -> None:
    cookie = api_login(client)
    token = CSRF.search(client.get("/staff").text)
    assert token
    r = client.post("/staff/logout", data={"csrf_token": token.group(1)}, follow_redirects=False)
    assert r.status_code == 303
    assert me_with(ctx, cookie) == 401


def test_only_the_session_logged_out_ends(ctx: AppContext, city: Any) -> None:
    with TestClient(create_app(ctx)) as phone, TestClient(create_app(ctx)) as desk:
        phone_cookie = api_login(phone)
        desk_cookie = api_login(desk)
        phone.post("/api/v1/auth/logout")
        assert me_with(ctx, phone_cookie) == 401
        assert me_with(ctx, desk_cookie) == 200


def test_an_administrator_signs_a_staff_member_out_everywhere(
    client: TestClient, ctx: AppContext, city: Any
) -> None:
    target = city.staff_ids[1]
    with TestClient(create_app(ctx)) as victim:
        cookie = api_login(victim, "staff1")
    api_login(client, "admin")
    page = client.get(f"/admin/staff/{target}")
    assert "/sessions/revoke" in page.text
    token = CSRF.search(page.text)
    assert token
    r = client.post(
        f"/admin/staff/{target}/sessions/revoke",
        data={"csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert me_with(ctx, cookie) == 401
    assert client.get("/api/v1/auth/me").status_code == 200  # the admin's own session stays


def test_staff_cannot_sign_others_out(client: TestClient, ctx: AppContext, city: Any) -> None:
    with TestClient(create_app(ctx)) as victim:
        cookie = api_login(victim, "staff1")
    api_login(client, "staff0")
    token = CSRF.search(client.get("/staff").text)
    assert token
    r = client.post(
        f"/admin/staff/{city.staff_ids[1]}/sessions/revoke",
        data={"csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert me_with(ctx, cookie) == 200


def test_a_password_change_on_the_admin_page_ends_the_sessions(
    client: TestClient, ctx: AppContext, city: Any
) -> None:
    target = city.staff_ids[2]
    with TestClient(create_app(ctx)) as victim:
        cookie = api_login(victim, "staff2")
    api_login(client, "admin")
    page = client.get(f"/admin/staff/{target}")
    token = CSRF.search(page.text)
    assert token
    form = {
        "csrf_token": token.group(1),
        "login": "staff2",
        "display_name": "職員2",
        "email": "s2@city.example",
        "active": "on",
        "departments": str(city.dept_id),
        "skills": str(city.consult_id),
        "password": "a-new-password-123",
    }
    r = client.post(f"/admin/staff/{target}", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert me_with(ctx, cookie) == 401


def test_the_importer_ends_the_sessions_of_changed_passwords(ctx: AppContext, city: Any) -> None:
    with TestClient(create_app(ctx)) as a, TestClient(create_app(ctx)) as b:
        changed = api_login(a, "staff0")
        kept = api_login(b, "staff1")
    with ctx.writer_sessions() as session:
        before = password_hashes(session)
        staff = session.get(Staff, city.staff_ids[0])
        assert staff is not None
        staff.password_hash = hasher.hash("from-the-city-file")
        session.flush()
        assert revoke_changed_passwords(session, before) == [city.staff_ids[0]]
        session.commit()
    assert me_with(ctx, changed) == 401
    assert me_with(ctx, kept) == 200


def test_idle_and_absolute_limits_still_apply(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any
) -> None:
    cookie = api_login(client)
    clock.moment += timedelta(minutes=ctx.settings.session_idle_minutes + 1)
    assert me_with(ctx, cookie) == 401


def test_the_json_login_spends_a_hash_on_unknown_logins(
    client: TestClient, city: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []

    class SpyHasher:
        """The real hasher, noting which hash each check was spent on."""

        def verify(self, hash: str, password: str) -> bool:
            checked.append(hash)
            return hasher.verify(hash, password)

        def hash(self, password: str) -> str:
            return hasher.hash(password)

    monkeypatch.setattr(login_module, "hasher", SpyHasher())
    r = client.post("/api/v1/auth/login", json={"login": "nobody", "password": "pw"})
    assert r.status_code == 401
    assert checked == [dummy_hash()]
    checked.clear()
    assert check_password(None, "pw") is False and checked == [dummy_hash()]
