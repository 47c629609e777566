"""End to end in real headless Chromium: a walk-in at a kiosk, routed to staff.

A staff member of the welfare division (qualified for the general counter's
service, which belongs to another division) opens the remote counter and
becomes available. At the kiosk a visitor touches "I do not have a booking",
then the service button, and gets ticket number 1 with an estimated wait.
The staff console rings (visible, announced); the staff member answers and
lands in the call; the kiosk's ticket screen moves to the call screen by
itself; both reach ``connected`` with video frames decoded and audio
received on both sides; "end the call" ends it for both and closes the
ticket.

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

import pytest
from browser_harness import (
    SECRET,
    STAFF_LOGIN,
    STAFF_PASSWORD,
    AppInNetns,
    assert_media_flows,
    wait_connected,
)

from app.core.tokens import Purpose, Tokens

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = [pytest.mark.browser, pytest.mark.media, pytest.mark.slow]

TIMEOUT_MS = 45_000

# Open all day, every day (holidays too); the app's clock (conftest.app_clock)
# is a weekday 10:00, so the interpreter is free for the whole call. The
# service belongs to the general counter, the staff member to welfare.
COUNTER_CITY_YAML = """\
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
  - slug: fukushi
    name_ja: 福祉課
    name_en: Welfare Division
    hours:
      mon: *allday
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
    departments: [fukushi]
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
# Portuguese has an interpreter at work all the time; Vietnamese has nobody.
interpreter_languages:
  - code: pt
    name_ja: ポルトガル語
    name_en: Portuguese
    name_native: Português
  - code: vi
    name_ja: ベトナム語
    name_en: Vietnamese
    name_native: Tiếng Việt
interpreters:
  - slug: silva
    name: Ana Silva
    email: silva@interp.test.example
    languages: [pt]
    hours:
      mon: *allday
      tue: *allday
      wed: *allday
      thu: *allday
      fri: *allday
      sat: *allday
      sun: *allday
"""


@pytest.fixture
def city_yaml() -> str:
    return COUNTER_CITY_YAML


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


def test_walk_in_from_the_kiosk_answered_at_the_staff_counter(
    app_in_netns: AppInNetns, chromium_in_netns: Browser
) -> None:
    app = app_in_netns
    db = app.env["MADOGUCHI_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        kiosk_id = conn.execute("SELECT id FROM kiosks").fetchone()[0]
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
            # -- staff: log in, open the counter, become available ---------------------------
            staff.goto("/staff/login")
            staff.fill("#login", STAFF_LOGIN)
            staff.fill("#password", STAFF_PASSWORD)
            staff.click("form.narrow-form button[type=submit]")
            staff.wait_for_url(re.compile(r"/staff$"))
            staff.goto("/staff/counter")
            staff.click('button[data-presence-choice="available"]')
            staff.wait_for_selector('#presence-now[data-presence="available"]')
            assert staff.locator("#offers li").count() == 0

            # -- the visitor: no booking, the service button, a ticket ------------------------
            kiosk.goto(home + "?lang=ja")
            kiosk.click("a.kiosk-touch")
            kiosk.click('a[data-kiosk="walk-in"]')
            # The resident needs a Portuguese interpreter: the button in Portuguese.
            kiosk.locator('a.kiosk-language[data-language="pt"]').click()
            kiosk.wait_for_selector('a.kiosk-language[data-language="pt"][aria-pressed="true"]')
            kiosk.locator("button.kiosk-service").filter(has_text="窓口での相談").click()
            kiosk.wait_for_url(re.compile(rf"{re.escape(home)}/ticket/\d+"))
            assert kiosk.locator(".kiosk-ticket-number").inner_text().endswith("1")
            assert kiosk.locator("#ticket-interpreter").inner_text() == "通訳：Português"
            assert "待ち時間の目安" in kiosk.locator("#ticket-estimate").inner_text()

            # -- the ring, answered -------------------------------------------------------------
            offer = staff.locator("#offers li.offer.ringing")
            offer.wait_for()
            assert "受付番号 1" in offer.inner_text()
            assert "受付番号 1" in staff.locator("#ring-announce").inner_text()
            assert staff.evaluate("() => document.body.classList.contains('counter-ringing')")
            assert staff.title().startswith("●")
            offer.locator("button.offer-accept").click()
            staff.wait_for_url(re.compile(r"/staff/counter/call/\d+$"))

            # -- the kiosk follows into the call; media both ways ----------------------------
            kiosk.wait_for_url(re.compile(rf"{re.escape(home)}/ticket/\d+/call$"))
            wait_connected(staff, kiosk)
            assert_media_flows(staff, "staff")
            assert_media_flows(kiosk, "kiosk")

            # -- the interpreter was called on accepting; withdraw, ask again -----------------
            status = staff.locator("#interp-status")
            assert "Ana Silva さん（ポルトガル語）を呼び出しました" in status.inner_text()
            staff.click("#btn-interpreter-cancel")
            staff.wait_for_function(
                "() => document.getElementById('interp-status').textContent"
                " === '依頼を取り消しました。'"
            )
            staff.select_option("#interp-language", "vi")
            staff.click("#btn-interpreter")
            staff.wait_for_function(
                "() => document.getElementById('interp-free').textContent"
                " === 'いま対応できる言語：ポルトガル語'"
            )
            assert status.inner_text() == "この言語の通訳者で、いま対応できる人がいません。"
            staff.select_option("#interp-language", "pt")
            staff.click("#btn-interpreter")
            staff.wait_for_selector("#interpreter-form[hidden]", state="attached")
            assert "Ana Silva さん（ポルトガル語）を呼び出しました" in status.inner_text()

            # -- the end ---------------------------------------------------------------------------
            staff.click("#btn-end")
            kiosk.wait_for_selector("#call-app[data-call-state=ended]")
            # The staff member's part ends on the call's wrap-up (test_call_wrapup.py).
            staff.wait_for_url(re.compile(r"/staff/records/\d+/wrapup$"))
    except BaseException:
        print("\n".join(logs[-80:]))
        print("--- madoguchi serve (tail) ---\n" + app.log_tail(80))
        raise
    with sqlite3.connect(db) as conn:
        status, staff_login = conn.execute(
            "SELECT t.status, s.login FROM queue_tickets t JOIN staff s ON s.id = t.staff_id"
        ).fetchone()
        presence = conn.execute("SELECT status FROM staff_presence").fetchone()[0]
        calls = conn.execute(
            "SELECT language, release_reason FROM interpreter_calls ORDER BY id"
        ).fetchall()
    assert (status, staff_login, presence) == ("done", STAFF_LOGIN, "available")
    # Called on accept, withdrawn, called again, released when the call ended.
    assert [tuple(c) for c in calls] == [("pt", "cancelled"), ("pt", "ticket-done")]
