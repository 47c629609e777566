"""Every call ends on a wrap-up, and an ended call's page keeps nothing else.

Real Chromium (fake camera and microphone) against ``madoguchi serve`` in a
loopback-only namespace (the harness in ``conftest.py``).

* A walk-in at the kiosk, answered by a staff member of another division:
  "end the call" lands on the call's wrap-up (outcome, notes, "open an
  application"); the application opened there has the walk-in's session
  attached; its session record page shows the outcome, the notes and the
  application, and is reachable from the counter console, the dashboard and
  the application. Reopened, the call page offers nothing but the wrap-up.
* A booked call: ending it with its outcome lands on the same wrap-up, with the
  resident's name ready for the application; reopened, its call page has no
  join, hand-over, invitation or end controls left.

axe-core checks the wrap-up page, the session record page and both ended
call pages.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import httpx
import pytest
from axe_harness import assert_accessible, load_axe
from browser_harness import SECRET, STAFF_LOGIN, STAFF_PASSWORD, AppInNetns, wait_connected

from app.core.tokens import Purpose, Tokens

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = [pytest.mark.browser, pytest.mark.media, pytest.mark.slow]

TIMEOUT_MS = 45_000

# Open all day, every day. The service belongs to the general counter, the
# staff member to welfare (qualified for it): a walk-in answered across divisions.
CITY_YAML = """\
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
"""

# What must be gone from an ended call's page: joining, hand-over, invitations, ending.
CALL_CONTROLS = ("#btn-join", "#handover-form", "#invite-form", "#btn-end", "#btn-leave")
SHOWN_THOUGH_HIDDEN = """() => [...document.querySelectorAll('[hidden]')]
  .filter((el) => getComputedStyle(el).display !== 'none')
  .map((el) => el.outerHTML.slice(0, 120))"""
WRAPUP_URL = re.compile(r"/staff/records/(\d+)/wrapup$")


@pytest.fixture
def city_yaml() -> str:
    return CITY_YAML


@contextmanager
def person(browser: Browser, base_url: str, logs: list[str], who: str) -> Iterator[Page]:
    context: BrowserContext = browser.new_context(
        base_url=base_url, locale="ja-JP", timezone_id="Asia/Tokyo", bypass_csp=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.on("console", lambda msg: logs.append(f"[{who} console.{msg.type}] {msg.text}"))
    page.on("pageerror", lambda exc: logs.append(f"[{who} pageerror] {exc}"))
    try:
        yield page
    finally:
        context.close()


def login(staff: Page) -> None:
    staff.goto("/staff/login")
    staff.fill("#login", STAFF_LOGIN)
    staff.fill("#password", STAFF_PASSWORD)
    staff.click("form.narrow-form button[type=submit]")
    staff.wait_for_url(re.compile(r"/staff$"))


def assert_only_the_wrap_up_is_left(page: Page, axe: str, label: str) -> str:
    """The ended call page: no call controls, one way on (the wrap-up); its href."""
    page.wait_for_selector("#step-ended")
    assert page.is_visible("#step-ended"), label
    for control in CALL_CONTROLS:
        assert page.locator(control).count() == 0 or not page.is_visible(control), (
            label,
            control,
        )
    assert page.locator("#handover-form, #invite-form, #interpreter-form").count() == 0, label
    assert page.evaluate(SHOWN_THOUGH_HIDDEN) == [], label
    assert_accessible(page, axe, label)
    href = page.get_attribute("#wrapup-link", "href")
    assert href, label
    return href


def test_a_walk_in_ends_on_its_wrap_up_and_its_record_joins_the_application(
    app_in_netns: AppInNetns, chromium_in_netns: Browser
) -> None:
    app = app_in_netns
    axe = load_axe()
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
            login(staff)
            staff.goto("/staff/counter")
            staff.click('button[data-presence-choice="available"]')
            staff.wait_for_selector('#presence-now[data-presence="available"]')

            kiosk.goto(home + "?lang=ja")
            kiosk.click("a.kiosk-touch")
            kiosk.click('a[data-kiosk="walk-in"]')
            kiosk.locator("button.kiosk-service").filter(has_text="窓口での相談").click()
            kiosk.wait_for_url(re.compile(rf"{re.escape(home)}/ticket/\d+"))

            offer = staff.locator("#offers li.offer.ringing")
            offer.wait_for()
            offer.locator("button.offer-accept").click()
            staff.wait_for_url(re.compile(r"/staff/counter/call/\d+$"))
            call_path = staff.url.removeprefix(app.base_url)
            wait_connected(staff, kiosk)

            # -- the end: straight onto the wrap-up ---------------------------------------
            staff.click("#btn-end")
            kiosk.wait_for_selector("#call-app[data-call-state=ended]")
            staff.wait_for_url(WRAPUP_URL)
            match = WRAPUP_URL.search(staff.url)
            assert match
            record_id = int(match.group(1))
            assert staff.locator("h1").inner_text().startswith("通話のまとめ")
            facts = staff.locator("dl.record-facts").inner_text()
            assert "予約なしの通話" in facts and "受付番号 1" in facts, facts
            assert "北支所" in facts and "窓口での相談" in facts, facts
            assert_accessible(staff, axe, "wrap-up of a walk-in")

            staff.check("#outcome-follow-up-needed")
            staff.fill("#notes", "転入の書類を後日持参")
            staff.click("#btn-wrapup")
            staff.wait_for_url(re.compile(r"/staff/records/\d+/wrapup\?saved=wrapup$"))
            assert "保存しました" in staff.locator("p.notice.ok").inner_text()
            assert staff.is_checked("#outcome-follow-up-needed")
            assert staff.input_value("#notes") == "転入の書類を後日持参"

            # -- open an application with the session attached ----------------------------
            staff.fill("#w-proc", "転入届")
            staff.fill("#w-name", "佐藤 花子")
            staff.click("#btn-open-application")
            staff.wait_for_url(re.compile(r"/staff/applications/\d+$"))
            application_path = staff.url.removeprefix(app.base_url)
            linked = staff.locator(f'ul.linked-sessions li[data-record="{record_id}"]')
            assert "予約なしの通話" in linked.inner_text()
            timeline = staff.locator("ol.timeline").inner_text()
            assert "相談記録を関連付け" in timeline, timeline

            # -- the session record, from the application ---------------------------------
            linked.locator(f'a[href="/staff/records/{record_id}"]').click()
            staff.wait_for_url(re.compile(rf"/staff/records/{record_id}$"))
            assert staff.get_attribute("dd[data-outcome]", "data-outcome") == "follow-up-needed"
            assert "転入の書類を後日持参" in staff.locator("dd.notes").inner_text()
            assert staff.get_attribute("a[data-application]", "href") == application_path, (
                "the record links back to its application"
            )
            assert "山田 太郎" in staff.locator("table.segments").inner_text()
            assert_accessible(staff, axe, "session record")

            # -- reachable from the counter console and the dashboard ---------------------
            for page_path in ("/staff/counter", "/staff/dashboard"):
                staff.goto(page_path)
                row = staff.locator(f'#recent-records tr[data-record="{record_id}"]')
                assert row.locator(f'a[href="/staff/records/{record_id}"]').count() == 1, page_path

            # -- the ended call's page keeps only the wrap-up -----------------------------
            staff.goto(call_path)
            href = assert_only_the_wrap_up_is_left(staff, axe, "ended walk-in call")
            staff.click("#wrapup-link")
            staff.wait_for_url(WRAPUP_URL)
            assert href.endswith("/wrapup") and f"/staff/records/{record_id}/" in staff.url
            # Attached already: the wrap-up names the application instead of a form.
            assert staff.get_attribute("#application-link", "href") == application_path
            assert staff.locator("#open-application").count() == 0
    except BaseException:
        print("\n".join(logs[-80:]))
        print("--- madoguchi serve (tail) ---\n" + app.log_tail(80))
        raise
    with sqlite3.connect(db) as conn:
        outcome, notes, booking_id = conn.execute(
            "SELECT c.outcome, c.notes, c.booking_id FROM consultations c "
            "JOIN queue_tickets t ON t.room_id = c.room"
        ).fetchone()
        attached = conn.execute("SELECT record_id FROM application_sessions").fetchall()
    assert (outcome, notes, booking_id) == ("follow-up-needed", "転入の書類を後日持参", None)
    assert attached == [(record_id,)]


def book_today(app: AppInNetns) -> str:
    db = app.env["MADOGUCHI_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        (service_id,) = conn.execute("SELECT id FROM services").fetchone()
    today = app.clock.now().astimezone(ZoneInfo("Asia/Tokyo")).date()
    with httpx.Client(base_url=app.base_url, trust_env=False, timeout=20) as api:
        slots = api.get(
            f"/api/v1/services/{service_id}/availability",
            params={"from": today.isoformat(), "to": today.isoformat()},
        ).json()["slots"]
        assert slots, "no bookable time today on the app's clock"
        r = api.post(
            "/api/v1/bookings",
            json={
                "service_id": service_id,
                "start": slots[0]["start"],
                "channel": "online",
                "name": "鈴木 一郎",
                "email": "ichiro@example.jp",
            },
        )
        assert r.status_code == 201, r.text
        code: str = r.json()["code"]
        return code


def test_a_booked_call_ends_on_the_same_wrap_up_and_its_page_keeps_no_controls(
    app_in_netns: AppInNetns, chromium_in_netns: Browser
) -> None:
    app = app_in_netns
    axe = load_axe()
    code = book_today(app)
    logs: list[str] = []
    try:
        with person(chromium_in_netns, app.base_url, logs, "staff") as staff:
            login(staff)
            staff.goto(f"/staff/call/{code}")
            # Join (the resident is not there), record the outcome, end.
            staff.click("#btn-join")
            staff.wait_for_selector("#call-app[data-call-state]")
            staff.fill("#notes", "本人確認済み")
            staff.check("#outcome-completed")
            staff.click("#btn-end")
            staff.wait_for_url(WRAPUP_URL)
            facts = staff.locator("dl.record-facts").inner_text()
            assert "予約の通話" in facts and "鈴木 一郎" in facts and code in facts, facts
            assert staff.is_checked("#outcome-completed")
            assert staff.input_value("#notes") == "本人確認済み"
            # The application form starts from the booking's resident.
            assert staff.input_value("#w-name") == "鈴木 一郎"
            assert_accessible(staff, axe, "wrap-up of a booked call")

            staff.goto(f"/staff/call/{code}")
            href = assert_only_the_wrap_up_is_left(staff, axe, "ended booked call")
            assert href == f"/staff/call/{code}/wrapup"
            # The booking's page leads to the session record too.
            staff.goto(f"/staff/bookings/{code}")
            staff.click("#record-link")
            staff.wait_for_url(re.compile(r"/staff/records/\d+$"))
            assert staff.get_attribute("dd[data-outcome]", "data-outcome") == "completed"
    except BaseException:
        print("\n".join(logs[-80:]))
        print("--- madoguchi serve (tail) ---\n" + app.log_tail(80))
        raise
