"""Helpers shared by several test modules."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from html import unescape

from admin_page_helpers import csrf_of
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from scheduler.models import Booking

# The test city's clock: Monday 2026-11-30 09:00 JST.
NOW = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)


def login(client: TestClient, who: str = "staff0") -> None:
    token = csrf_of(client.get("/staff/login").text)
    r = client.post(
        "/staff/login",
        data={"login": who, "password": "pw", "csrf_token": token, "next": "/staff"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def add_booking(
    engine: Engine, staff_id: int, service_id: int, start: datetime, *, status: str = "confirmed"
) -> Booking:
    end = start + timedelta(minutes=30)
    booking = Booking(
        code="MDG-" + secrets.token_hex(3).upper(),
        room_id=secrets.token_hex(16),
        service_id=service_id,
        staff_id=staff_id,
        channel="online",
        start_at=start,
        end_at=end,
        busy_start=start,
        busy_end=end,
        status=status,
        resident_name="山田 花子",
        resident_email="r@example.jp",
        locale="ja",
        created_at=start - timedelta(days=3),
        updated_at=start - timedelta(days=3),
    )
    with Session(engine, expire_on_commit=False) as session:
        session.add(booking)
        session.commit()
    return booking


def app_data(html: str) -> dict[str, str]:
    """The data attributes of #call-app, unescaped."""
    tag = re.search(r'<div id="call-app"(.*?)>', html, re.S)
    assert tag, "no #call-app in the page"
    return {
        k: unescape(v[1:-1])
        for k, v in re.findall(r'data-([a-z-]+)=("[^"]*"|\'[^\']*\')', tag.group(1))
    }
