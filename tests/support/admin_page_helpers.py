"""Helpers shared by several test modules."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client: TestClient, who: str = "admin", password: str = "pw") -> None:
    token = csrf_of(client.get("/staff/login").text)
    r = client.post(
        "/staff/login",
        data={"login": who, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
