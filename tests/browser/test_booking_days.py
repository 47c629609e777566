"""A day closed by the booking notice is 受付終了 in the browser, never 満席 with a waiting list.

The city's service needs a day's notice: today can never be booked, whatever
the time, so today is closed by notice; the day after tomorrow always has
times. Real Chromium against ``madoguchi serve`` (``conftest.py``); every
page visited is checked with axe-core.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from axe_harness import assert_accessible, load_axe
from browser_harness import TINY_CITY_YAML, AppInNetns
from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTICE_CITY_YAML = TINY_CITY_YAML.replace("min_notice: 0", "min_notice: 1440")
assert NOTICE_CITY_YAML != TINY_CITY_YAML


@pytest.fixture
def city_yaml() -> str:
    return NOTICE_CITY_YAML


def test_today_closed_by_notice_is_shown_closed_everywhere(
    app_in_netns: AppInNetns, chromium_in_netns: Browser
) -> None:
    axe = load_axe()
    app = app_in_netns
    db = app.env["MADOGUCHI_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        (service_id,) = conn.execute("SELECT id FROM services").fetchone()
    today = app.clock.now().astimezone(ZoneInfo("Asia/Tokyo")).date()
    later = (today + timedelta(days=2)).isoformat()
    with httpx.Client(base_url=app.base_url, trust_env=False, timeout=20) as api:
        slots = api.get(
            f"/api/v1/services/{service_id}/availability", params={"from": later, "to": later}
        ).json()["slots"]
        booked = api.post(
            "/api/v1/bookings",
            json={
                "service_id": service_id,
                "start": slots[0]["start"],
                "channel": "online",
                "name": "山田 花子",
                "email": "hanako@example.jp",
            },
        )
        assert booked.status_code == 201, booked.text
        refused = api.post(
            "/api/v1/waitlist",
            json={
                "service_id": service_id,
                "day": today.isoformat(),
                "name": "佐藤 一郎",
                "email": "ichiro@example.jp",
            },
        )
        assert refused.status_code == 422, refused.text
    manage = httpx.URL(booked.json()["manage_url"]).raw_path.decode()

    context = chromium_in_netns.new_context(base_url=app.base_url, locale="ja-JP", bypass_csp=True)
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        for label, path in (
            ("service days", f"/services/{service_id}"),
            ("change days", manage + "/change"),
        ):
            page.goto(path)
            first = page.locator("ul.days > li").first
            assert "受付終了" in first.inner_text(), label
            assert "キャンセル待ち" not in first.inner_text(), label
            assert first.locator("a").count() == 0, label
            assert "キャンセル待ち" not in page.locator("ul.days").inner_text(), label
            assert_accessible(page, axe, label)
        page.goto(f"/services/{service_id}/day/{today.isoformat()}")
        assert "この日の予約受付は終了しました" in page.locator("main").inner_text()
        assert page.locator('form[action="/waitlist"]').count() == 0
        assert_accessible(page, axe, "today's page")
        page.goto(f"/services/{service_id}?lang=en")
        assert "Bookings closed" in page.locator("ul.days > li").first.inner_text()
        assert_accessible(page, axe, "service days (en)")
    finally:
        context.close()
