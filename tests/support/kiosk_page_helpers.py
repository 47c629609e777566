"""Helpers shared by several test modules."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from app.core.context import AppContext
from scheduler.models import Kiosk

ELEVEN = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 11:00 JST

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def kiosk_path(ctx: AppContext, kiosk_id: int, *, days: int = 30) -> str:
    kiosk = Kiosk(id=kiosk_id)
    token = ctx.links.kiosk_token(kiosk, expires=ctx.clock.now() + timedelta(days=days))
    return f"/kiosk/{token}"


def submit_code(client: TestClient, path: str, code: str, lang: str = "ja") -> Any:
    page = client.get(f"{path}/code?lang={lang}")
    assert page.status_code == 200
    match = CSRF.search(page.text)
    assert match
    return client.post(
        f"{path}/code?lang={lang}",
        data={"code": code, "csrf_token": match.group(1)},
        follow_redirects=False,
    )
