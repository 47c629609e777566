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
from typing import TYPE_CHECKING

import pytest
from axe_harness import assert_accessible, load_axe
from browser_call_steps import (
    answer_ring,
    book_today,
    db_path,
    kiosk_home_path,
    log_in,
    open_counter_available,
    person,
    reported_on_failure,
    walk_in,
)
from browser_harness import (
    AppInNetns,
    build_city_yaml,
    department,
    staff_member,
    wait_connected,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.media, pytest.mark.slow]

# Open all day, every day. The service belongs to the general counter, the
# staff member to welfare (qualified for it): a walk-in answered across divisions.
CITY_YAML = build_city_yaml(
    departments=[department(), department("fukushi", "福祉課", "Welfare Division")],
    staff=[staff_member(departments=["fukushi"])],
)

# What must be gone from an ended call's page: joining, hand-over, invitations, ending.
CALL_CONTROLS = ("#btn-join", "#handover-form", "#invite-form", "#btn-end", "#btn-leave")
SHOWN_THOUGH_HIDDEN = """() => [...document.querySelectorAll('[hidden]')]
  .filter((el) => getComputedStyle(el).display !== 'none')
  .map((el) => el.outerHTML.slice(0, 120))"""
WRAPUP_URL = re.compile(r"/staff/records/(\d+)/wrapup$")


@pytest.fixture
def city_yaml() -> str:
    return CITY_YAML


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
    db = db_path(app)
    home = kiosk_home_path(app)
    logs: list[str] = []
    with (
        reported_on_failure(app, logs),
        person(chromium_in_netns, app.base_url, logs, "kiosk", bypass_csp=True) as kiosk,
        person(chromium_in_netns, app.base_url, logs, "staff", bypass_csp=True) as staff,
    ):
        log_in(staff)
        open_counter_available(staff)
        walk_in(kiosk, home, "窓口での相談")
        answer_ring(staff)
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
    with sqlite3.connect(db) as conn:
        outcome, notes, booking_id = conn.execute(
            "SELECT c.outcome, c.notes, c.booking_id FROM consultations c "
            "JOIN queue_tickets t ON t.room_id = c.room"
        ).fetchone()
        attached = conn.execute("SELECT record_id FROM application_sessions").fetchall()
    assert (outcome, notes, booking_id) == ("follow-up-needed", "転入の書類を後日持参", None)
    assert attached == [(record_id,)]


def test_a_booked_call_ends_on_the_same_wrap_up_and_its_page_keeps_no_controls(
    app_in_netns: AppInNetns, chromium_in_netns: Browser
) -> None:
    app = app_in_netns
    axe = load_axe()
    code = book_today(app, "鈴木 一郎", "ichiro@example.jp")
    logs: list[str] = []
    with (
        reported_on_failure(app, logs),
        person(chromium_in_netns, app.base_url, logs, "staff", bypass_csp=True) as staff,
    ):
        log_in(staff)
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
