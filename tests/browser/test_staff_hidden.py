"""Hidden means hidden on the staff pages, and an ended call leaves only its wrap-up.

Real Chromium against ``madoguchi serve`` (the harness in ``conftest.py``,
the tiny all-day city). A global ``button {display: inline-block}`` once beat
the ``hidden`` attribute, so the ring-sound button, "leave the call (the
colleague continues)" and "withdraw the request" showed when they should not;
and after the end of a call its page still offered hand-over, invitations and
the rest. Every page visited is checked with axe-core too.
"""

from __future__ import annotations

import re
import sqlite3
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import httpx
import pytest
from axe_harness import assert_accessible, load_axe
from browser_harness import STAFF_LOGIN, STAFF_PASSWORD, AppInNetns

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Elements carrying `hidden` whose computed display is not `none`.
SHOWN_THOUGH_HIDDEN = """() => [...document.querySelectorAll('[hidden]')]
  .filter((el) => getComputedStyle(el).display !== 'none')
  .map((el) => el.outerHTML.slice(0, 120))"""


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
        # The app's clock starts at 10:00 Tokyo (served_clock.CITY_OPEN): today has times.
        assert slots, "no bookable time today on the app's clock"
        r = api.post(
            "/api/v1/bookings",
            json={
                "service_id": service_id,
                "start": slots[0]["start"],
                "channel": "online",
                "name": "山田 花子",
                "email": "hanako@example.jp",
            },
        )
        assert r.status_code == 201, r.text
        code: str = r.json()["code"]
        return code


def login(page: Page) -> None:
    page.goto("/staff/login")
    page.fill("#login", STAFF_LOGIN)
    page.fill("#password", STAFF_PASSWORD)
    page.click("form.narrow-form button[type=submit]")
    page.wait_for_url(re.compile(r"/staff$"))


def test_hidden_elements_stay_hidden_and_an_ended_call_leaves_only_the_wrap_up(
    app_in_netns: AppInNetns, chromium_in_netns: Browser
) -> None:
    axe = load_axe()
    code = book_today(app_in_netns)
    context = chromium_in_netns.new_context(
        base_url=app_in_netns.base_url, locale="ja-JP", bypass_csp=True
    )
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        login(page)
        for path in ("/staff", "/staff/counter", f"/staff/call/{code}"):
            page.goto(path)
            page.wait_for_load_state("load")
            assert page.evaluate(SHOWN_THOUGH_HIDDEN) == [], path
            assert_accessible(page, axe, path)
        page.goto("/staff/counter")
        assert page.get_attribute("#sound-on", "hidden") is not None
        assert not page.is_visible("#sound-on")

        page.goto(f"/staff/call/{code}")
        assert not page.is_visible("#btn-leave")
        assert not page.is_visible("#btn-interpreter-cancel")
        assert page.is_visible("#handover-form") and page.is_visible("#invite-form")

        # Join (the resident is not there), record an outcome, end.
        page.click("#btn-join")
        page.wait_for_selector("#call-app[data-call-state]")
        page.check("#outcome-completed")
        page.click("#btn-end")
        # The call ends on its wrap-up (tests/browser/test_call_wrapup.py).
        page.wait_for_url(re.compile(r"/staff/records/\d+/wrapup$"))
        # Its page, reopened, keeps nothing but the way to the wrap-up.
        page.goto(f"/staff/call/{code}")
        page.wait_for_selector("#step-ended")
        for gone in (
            "#btn-join",
            "#handover-form",
            "#invite-form",
            "#interpreter-form",
            "#btn-ask-photo",
            "#push-form",
            "#btn-end",
        ):
            assert page.locator(gone).count() == 0, gone
        assert page.is_visible("#wrapup-link")
        assert page.evaluate(SHOWN_THOUGH_HIDDEN) == []
        assert_accessible(page, axe, "ended call")
    finally:
        context.close()


def test_the_chosen_presence_is_shown_pressed(
    app_in_netns: AppInNetns, chromium_in_netns: Browser
) -> None:
    axe = load_axe()
    context = chromium_in_netns.new_context(
        base_url=app_in_netns.base_url, locale="ja-JP", bypass_csp=True
    )
    context.set_default_timeout(30_000)
    page = context.new_page()
    pressed = "[data-presence-choice][aria-pressed=true]"
    try:
        login(page)
        page.goto("/staff/counter")
        choices = page.locator("[data-presence-choice]")
        assert choices.count() == 3
        before = page.eval_on_selector(
            '[data-presence-choice="available"]', "(b) => getComputedStyle(b).backgroundColor"
        )
        page.click('[data-presence-choice="available"]')
        page.wait_for_selector('#presence-now[data-presence="available"]')
        page.wait_for_selector(f'{pressed}[data-presence-choice="available"]')
        assert page.locator(pressed).count() == 1
        after = page.eval_on_selector(
            '[data-presence-choice="available"]', "(b) => getComputedStyle(b).backgroundColor"
        )
        assert after != before  # seen, not only announced
        assert_accessible(page, axe, "counter, available")
        page.click('[data-presence-choice="away"]')
        page.wait_for_selector(f'{pressed}[data-presence-choice="away"]')
        assert page.locator(pressed).count() == 1
        # A fresh page shows the same choice pressed.
        page.reload()
        assert page.get_attribute('[data-presence-choice="away"]', "aria-pressed") == "true"
    finally:
        context.close()


def test_the_application_timeline_names_each_change_once_and_who_made_it(
    app_in_netns: AppInNetns, chromium_in_netns: Browser
) -> None:
    axe = load_axe()
    context = chromium_in_netns.new_context(
        base_url=app_in_netns.base_url, locale="ja-JP", bypass_csp=True
    )
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        login(page)
        page.goto("/staff/applications")
        page.fill("#n-proc", "児童手当の申請")
        page.fill("#n-name", "山田 花子")
        page.click("form.open-application button[type=submit]")
        page.wait_for_url(re.compile(r"/staff/applications/\d+"))
        opened = page.locator("ol.timeline > li").first.inner_text()
        assert opened.count("受付") == 1, opened
        assert "山田 太郎" in opened and "staff:" not in opened, opened
        page.select_option("#to", index=0)
        chosen = page.locator("#to option").first.inner_text()
        page.click('form[action$="/status"] button[type=submit]')
        page.wait_for_load_state("load")
        items = page.locator("ol.timeline > li").all_inner_texts()
        change = next(i for i in items if "→" in i)
        assert re.search(rf"受付\s*→\s*{re.escape(chosen)}", change), change
        assert "山田 太郎" in change and "staff:" not in change, change
        assert_accessible(page, axe, "application")
    finally:
        context.close()
