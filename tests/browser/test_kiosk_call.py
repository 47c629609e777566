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
from typing import TYPE_CHECKING

import pytest
from browser_call_steps import (
    book_today,
    db_path,
    first_id,
    kiosk_home_path,
    log_in,
    open_keypad,
    person,
    reported_on_failure,
    type_code,
)
from browser_harness import (
    STAFF_NAME,
    AppInNetns,
    assert_media_flows,
    build_city_yaml,
    wait_connected,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.media, pytest.mark.slow]

VISITOR = "高橋 三郎"

# The builder's defaults: the all-day city with a kiosk and a service offered at kiosks.
KIOSK_CITY_YAML = build_city_yaml()


@pytest.fixture
def city_yaml() -> str:
    return KIOSK_CITY_YAML


@pytest.fixture
def app_env(app_env: dict[str, str]) -> dict[str, str]:
    # Back to the start screen soon after the call, so the test can watch it happen.
    return {**app_env, "MADOGUCHI_KIOSK_RETURN_SECONDS": "3"}


def test_booked_kiosk_visit_end_to_end(
    app_in_netns: AppInNetns, chromium_in_netns: Browser
) -> None:
    app = app_in_netns
    kiosk_id = first_id(app, "kiosks")
    code = book_today(app, VISITOR, "saburo@example.jp", kiosk_id=kiosk_id)
    home = kiosk_home_path(app, kiosk_id)
    logs: list[str] = []
    with (
        reported_on_failure(app, logs),
        person(chromium_in_netns, app.base_url, logs, "kiosk") as kiosk,
        person(chromium_in_netns, app.base_url, logs, "staff") as staff,
    ):
        # -- the visitor at the kiosk: start, "I have a booking", the keypad ----------------
        open_keypad(kiosk, home)
        assert kiosk.input_value("#code") == "MDG-"
        type_code(kiosk, code)
        assert kiosk.input_value("#code") == code
        kiosk.click("form.kiosk-code-form button[type=submit]")
        kiosk.wait_for_url(re.compile(rf"{re.escape(home)}/call/"))
        kiosk.wait_for_selector("#call-app[data-call-state=waiting]")
        assert "職員がまもなく参加します" in kiosk.locator("#wait-status").inner_text()

        # -- staff: log in, the visitor is waiting, join ------------------------------------
        log_in(staff)
        assert STAFF_NAME in staff.content()
        staff.wait_for_selector(f'tr[data-code="{code}"][data-state="waiting"]')
        row = staff.locator(f'tr[data-code="{code}"]')
        assert VISITOR in row.inner_text() and "北支所" in row.inner_text()
        row.locator("a.join").click()
        staff.wait_for_url(re.compile(rf"/staff/call/{code}$"))
        staff.click("#btn-join")

        # -- connected, media both ways -------------------------------------------------------
        wait_connected(staff, kiosk)
        assert_media_flows(staff, "staff")
        assert_media_flows(kiosk, "kiosk")
        assert kiosk.locator("#step-call").is_visible()
        peers = kiosk.evaluate(
            "() => [...window.madoguchiCall.peers.peers.values()].map((p) => p.info.role)"
        )
        assert peers == ["staff"], peers

        # -- the outcome, the end, and back to the start screen -------------------------------
        staff.check("#outcome-completed")
        staff.click("#btn-end")
        # The outcome is saved, then the staff page opens the call's wrap-up.
        staff.wait_for_url(re.compile(r"/staff/records/\d+/wrapup$"))
        kiosk.wait_for_selector("#call-app[data-call-state=ended]")
        assert "相談は終了しました" in kiosk.locator("#ended-text").inner_text()
        kiosk.wait_for_url(re.compile(rf"{re.escape(home)}\?lang=ja$"), timeout=15_000)
        assert "タッチして始めてください" in kiosk.content()
    with sqlite3.connect(db_path(app)) as conn:
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
