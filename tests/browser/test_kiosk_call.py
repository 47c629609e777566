"""End to end in real headless Chromium: a booked visit at a branch kiosk.

The kiosk screen (one browser context) goes from the start screen to the
booking-code keypad, enters the code of today's kiosk booking and lands in
the waiting room of its call screen; a staff member (another context) logs
in, sees the visitor waiting, joins; both reach ``connected`` with video
frames decoded and audio packets received on both sides; the staff member
records an outcome and ends the call; the kiosk says so and goes back to its
start screen by itself.

Runs in the shared harness (``conftest.py``): ``madoguchi serve`` and
Chromium with a fake camera and microphone inside a loopback-only namespace.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx
import pytest
from browser_harness import (
    SECRET,
    STAFF_LOGIN,
    STAFF_NAME,
    STAFF_PASSWORD,
    AppInNetns,
    assert_media_flows,
    wait_connected,
)
from served_clock import TOKYO

from app.core.tokens import Purpose, Tokens

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = [pytest.mark.browser, pytest.mark.media, pytest.mark.slow]

TIMEOUT_MS = 45_000
VISITOR = "高橋 三郎"

# The harness's tiny all-day city, with a kiosk and a service offered at kiosks.
KIOSK_CITY_YAML = """\
demo: true
city:
  name_ja: てすと市
  name_en: Test City
  close_public_holidays: false
  close_year_end: false
departments:
  - slug: soudan
    name_ja: 総合相談課
    name_en: General Consultation Division
    hours:
      mon: &allday ["00:00-23:59"]
      tue: *allday
      wed: *allday
      thu: *allday
      fri: *allday
      sat: *allday
      sun: *allday
services:
  - slug: madoguchi
    department: soudan
    name_ja: 窓口での相談
    name_en: Counter consultation
    duration: 20
    slot_step: 5
    channels: [kiosk, online]
    min_notice: 0
    horizon_days: 7
    change_cutoff: 0
staff:
  - login: yamada
    display_name: 山田 太郎
    email: yamada@city.test.example
    departments: [soudan]
    skills: [madoguchi]
    password: demo
branches:
  - slug: kita
    name_ja: 北支所
    name_en: North Branch Office
    address: てすと市北町1丁目2番3号
    kiosks:
      - slug: kita-1
        name: 北支所 リモート窓口
"""


@pytest.fixture
def city_yaml() -> str:
    return KIOSK_CITY_YAML


@pytest.fixture
def app_env(app_env: dict[str, str]) -> dict[str, str]:
    # Back to the start screen soon after the call, so the test can watch it happen.
    return {**app_env, "MADOGUCHI_KIOSK_RETURN_SECONDS": "3"}


def book_at_kiosk(app: AppInNetns) -> tuple[str, int]:
    """Today's first kiosk slot, booked through the API: (code, kiosk id)."""
    db = app.env["MADOGUCHI_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        service_id = conn.execute("SELECT id FROM services").fetchone()[0]
        kiosk_id = conn.execute("SELECT id FROM kiosks").fetchone()[0]
    # The app's today: its clock (conftest.app_clock) is a weekday 10:00 in Tokyo.
    today = app.clock.now().astimezone(TOKYO).date().isoformat()
    with httpx.Client(base_url=app.base_url, trust_env=False, timeout=20) as api:
        slots = api.get(
            f"/api/v1/services/{service_id}/availability",
            params={"from": today, "to": today, "channel": "kiosk", "kiosk_id": kiosk_id},
        ).json()["slots"]
        assert slots, "the kiosk has times left today"
        r = api.post(
            "/api/v1/bookings",
            json={
                "service_id": service_id,
                "start": slots[0]["start"],
                "channel": "kiosk",
                "kiosk_id": kiosk_id,
                "name": VISITOR,
                "email": "saburo@example.jp",
            },
        )
        assert r.status_code == 201, r.text
    return r.json()["code"], kiosk_id


@contextmanager
def person(browser: Browser, base_url: str, logs: list[str], who: str) -> Iterator[Page]:
    context: BrowserContext = browser.new_context(
        base_url=base_url, locale="ja-JP", timezone_id="Asia/Tokyo"
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.on("console", lambda msg: logs.append(f"[{who} console.{msg.type}] {msg.text}"))
    page.on("pageerror", lambda exc: logs.append(f"[{who} pageerror] {exc}"))
    try:
        yield page
    finally:
        context.close()


def test_booked_kiosk_visit_end_to_end(
    app_in_netns: AppInNetns, chromium_in_netns: Browser
) -> None:
    app = app_in_netns
    code, kiosk_id = book_at_kiosk(app)
    token = Tokens(SECRET).issue(
        Purpose.KIOSK, {"k": kiosk_id}, expires=app.clock.now() + timedelta(days=1)
    )
    home = f"/kiosk/{token}"
    logs: list[str] = []
    try:
        with (
            person(chromium_in_netns, app.base_url, logs, "kiosk") as kiosk,
            person(chromium_in_netns, app.base_url, logs, "staff") as staff,
        ):
            # -- the visitor at the kiosk: start, "I have a booking", the keypad ------------
            kiosk.goto(home + "?lang=ja")
            kiosk.click("a.kiosk-touch")
            kiosk.click('a[data-kiosk="booked"]')
            assert kiosk.input_value("#code") == "MDG-"
            for key in code.removeprefix("MDG-"):
                kiosk.click(f'#kiosk-keypad button[data-key="{key}"]')
            assert kiosk.input_value("#code") == code
            kiosk.click("form.kiosk-code-form button[type=submit]")
            kiosk.wait_for_url(re.compile(rf"{re.escape(home)}/call/"))
            kiosk.wait_for_selector("#call-app[data-call-state=waiting]")
            assert "職員がまもなく参加します" in kiosk.locator("#wait-status").inner_text()

            # -- staff: log in, the visitor is waiting, join --------------------------------
            staff.goto("/staff/login")
            staff.fill("#login", STAFF_LOGIN)
            staff.fill("#password", STAFF_PASSWORD)
            staff.click("form.narrow-form button[type=submit]")
            staff.wait_for_url(re.compile(r"/staff$"))
            assert STAFF_NAME in staff.content()
            staff.wait_for_selector(f'tr[data-code="{code}"][data-state="waiting"]')
            row = staff.locator(f'tr[data-code="{code}"]')
            assert VISITOR in row.inner_text() and "北支所" in row.inner_text()
            row.locator("a.join").click()
            staff.wait_for_url(re.compile(rf"/staff/call/{code}$"))
            staff.click("#btn-join")

            # -- connected, media both ways ---------------------------------------------------
            wait_connected(staff, kiosk)
            assert_media_flows(staff, "staff")
            assert_media_flows(kiosk, "kiosk")
            assert kiosk.locator("#step-call").is_visible()
            peers = kiosk.evaluate(
                "() => [...window.madoguchiCall.peers.peers.values()].map((p) => p.info.role)"
            )
            assert peers == ["staff"], peers

            # -- the outcome, the end, and back to the start screen ---------------------------
            staff.check("#outcome-completed")
            staff.click("#btn-end")
            # The outcome is saved, then the staff page opens the call's wrap-up.
            staff.wait_for_url(re.compile(r"/staff/records/\d+/wrapup$"))
            kiosk.wait_for_selector("#call-app[data-call-state=ended]")
            assert "相談は終了しました" in kiosk.locator("#ended-text").inner_text()
            kiosk.wait_for_url(re.compile(rf"{re.escape(home)}\?lang=ja$"), timeout=15_000)
            assert "タッチして始めてください" in kiosk.content()
    except BaseException:
        print("\n".join(logs[-80:]))
        print("--- madoguchi serve (tail) ---\n" + app.log_tail(80))
        raise
    db = app.env["MADOGUCHI_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        (outcome,) = conn.execute(
            "SELECT c.outcome FROM consultations c JOIN bookings b ON b.id = c.booking_id "
            "WHERE b.code = ?",
            (code,),
        ).fetchone()
        roles = {
            role
            for (role,) in conn.execute(
                "SELECT e.role FROM call_events e JOIN bookings b ON b.room_id = e.room "
                "WHERE b.code = ? AND e.kind = 'join'",
                (code,),
            )
        }
    assert outcome == "completed"
    assert roles == {"kiosk", "staff"}, roles
