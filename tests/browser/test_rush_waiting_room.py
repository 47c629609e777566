"""The rush queue's waiting room in real Chromium: the place, a polite live update, the turn.

The tiny city's service is a rush service with a slow admission rate, so a
resident who arrives after two others waits: the waiting page shows their
number and the people ahead, updates the live region as the queue moves (the
app's clock, never the wall clock, decides when), and at their turn opens
the booking page by itself. Without JavaScript the same page shows the same
place. Every page is checked with axe-core.
"""

from __future__ import annotations

import sqlite3

import httpx
import pytest
from axe_harness import assert_accessible, load_axe
from browser_harness import TINY_CITY_YAML, AppInNetns
from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUSH_CITY_YAML = TINY_CITY_YAML.replace(
    "    change_cutoff: 0\n", "    change_cutoff: 0\n    rush: true\n", 1
)
assert RUSH_CITY_YAML != TINY_CITY_YAML


@pytest.fixture
def city_yaml() -> str:
    return RUSH_CITY_YAML


@pytest.fixture
def app_env(app_env: dict[str, str]) -> dict[str, str]:
    # One resident every 4 seconds of the app's clock: a few polls per turn.
    return {**app_env, "MADOGUCHI_RUSH_ADMISSIONS_PER_SECOND": "0.25"}


def test_the_waiting_room_shows_the_place_and_opens_booking_at_the_turn(
    app_in_netns: AppInNetns, chromium_in_netns: Browser
) -> None:
    axe = load_axe()
    app = app_in_netns
    db = app.env["MADOGUCHI_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        (service_id,) = conn.execute("SELECT id FROM services").fetchone()
    with httpx.Client(base_url=app.base_url, trust_env=False, timeout=20) as api:
        for _ in range(2):  # two residents arrived first
            r = api.post(f"/api/v1/rush/services/{service_id}/tickets")
            assert r.status_code == 201, r.text

    # bypass_csp: axe-core is injected as a script tag; the page's own script is a file.
    context = chromium_in_netns.new_context(base_url=app.base_url, locale="ja-JP", bypass_csp=True)
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        page.goto(f"/services/{service_id}")
        assert page.url.endswith(f"/rush/{service_id}")
        assert_accessible(page, axe, "front door")
        page.get_by_role("button", name="順番待ちの列に並ぶ").click()
        page.wait_for_url("**/rush/wait/**")
        wait_url = page.url
        panel = page.locator("#rush-wait")
        assert "あなたの番号 3" in panel.inner_text()
        live = page.get_by_role("status")
        assert live.get_attribute("aria-live") == "polite"
        assert "あなたの前に" in live.inner_text()
        assert_accessible(page, axe, "waiting page")
        # The script updates the live region in place as the two ahead are let in...
        page.wait_for_function(
            "document.getElementById('rush-ahead').textContent.includes('次にお呼びします')",
            timeout=60_000,
        )
        assert page.url == wait_url
        # ...and at the turn the booking page opens by itself.
        page.wait_for_url(f"**/services/{service_id}", timeout=60_000)
        assert page.locator("ul.days > li").count() > 0
        assert_accessible(page, axe, "booking after the turn")

        # Without JavaScript: the same place, shown by the server.
        nojs = chromium_in_netns.new_context(
            base_url=app.base_url, locale="ja-JP", java_script_enabled=False
        )
        try:
            other = nojs.new_page()
            other.goto(f"/rush/{service_id}")
            other.get_by_role("button", name="順番待ちの列に並ぶ").click()
            other.wait_for_url("**/rush/wait/**")
            assert "あなたの番号 4" in other.locator("#rush-wait").inner_text()
            assert "待ち時間の目安" in other.get_by_role("status").inner_text()
        finally:
            nojs.close()
    finally:
        context.close()
