"""The wait a kiosk ticket promises, in real Chromium at the kiosk's size.

With nobody qualified for the service available or in a call, the ticket
does not say 「約1分」: it says nobody can answer now, when the next
qualified staff member is expected (by their working hours), the phone
number, and a QR code to book that service at this kiosk. When a qualified
staff member becomes available at the staff console, the ticket screen
changes by itself to an estimate; in English it reads "about 1 minute".
Every page visited is checked with axe-core.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import timedelta

import pytest
from axe_harness import assert_accessible, load_axe
from browser_harness import SECRET, AppInNetns
from playwright.sync_api import Browser, BrowserContext, Page

from app.core.tokens import Purpose, Tokens

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VIEWPORT = {"width": 1280, "height": 800}
PHONE = "0123-45-6789"

# The app's clock is a Wednesday 10:00 (served_clock.CITY_OPEN). Yamada works
# the department's hours (all day) but is not at the console; Sato, also
# qualified, works from 13:00. The city has no English kiosk name on purpose.
WAIT_CITY_YAML = """\
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
  - login: sato
    display_name: 佐藤 花子
    email: sato@city.test.example
    departments: [soudan]
    skills: [madoguchi]
    password: demo
    hours:
      mon: &afternoon ["13:00-17:00"]
      tue: *afternoon
      wed: *afternoon
      thu: *afternoon
      fri: *afternoon
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
    return WAIT_CITY_YAML


@pytest.fixture
def app_env(app_env: dict[str, str]) -> dict[str, str]:
    return {**app_env, "MADOGUCHI_KIOSK_PHONE": PHONE}


def open_context(browser: Browser, app: AppInNetns) -> BrowserContext:
    context = browser.new_context(
        base_url=app.base_url, locale="ja-JP", viewport=VIEWPORT, bypass_csp=True
    )
    context.set_default_timeout(30_000)
    return context


@pytest.fixture
def pages(app_in_netns: AppInNetns, chromium_in_netns: Browser) -> Iterator[tuple[Page, Page]]:
    kiosk = open_context(chromium_in_netns, app_in_netns)
    staff = open_context(chromium_in_netns, app_in_netns)
    try:
        yield kiosk.new_page(), staff.new_page()
    finally:
        kiosk.close()
        staff.close()


def kiosk_home(app: AppInNetns) -> tuple[str, int, int]:
    db = app.env["MADOGUCHI_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        (kiosk_id,) = conn.execute("SELECT id FROM kiosks").fetchone()
        (service_id,) = conn.execute("SELECT id FROM services").fetchone()
    token = Tokens(SECRET).issue(
        Purpose.KIOSK, {"k": kiosk_id}, expires=app.clock.now() + timedelta(days=1)
    )
    return f"/kiosk/{token}", kiosk_id, service_id


def test_a_ticket_with_nobody_qualified_says_so_then_shows_the_wait(
    app_in_netns: AppInNetns, pages: tuple[Page, Page]
) -> None:
    axe = load_axe()
    kiosk, staff = pages
    home, kiosk_id, service_id = kiosk_home(app_in_netns)

    kiosk.goto(f"{home}/walk-in?lang=ja")
    kiosk.locator("button.kiosk-service").first.click()
    kiosk.wait_for_url(re.compile(r"/ticket/\d+$"))
    ticket_url = kiosk.url

    # Nobody qualified at a console: no number promised.
    status = kiosk.locator(".kiosk-panel[role=status]").inner_text()
    assert "約" not in status and kiosk.locator("#ticket-estimate").count() == 0
    assert kiosk.locator("#ticket-unstaffed").inner_text() == (
        "いま、この用件の担当職員で対応できる人がいません。"
    )
    assert kiosk.locator("#ticket-expected").inner_text() == (
        "次に担当職員が対応できる見込みは 本日 13:00 からです。"
    )
    assert kiosk.locator("#ticket-phone").inner_text() == PHONE
    assert kiosk.locator("#ticket-booking-url").inner_text() == (
        f"{app_in_netns.base_url}/services/{service_id}?kiosk={kiosk_id}"
    )
    assert kiosk.locator("#ticket-booking-qr").evaluate("(img) => img.naturalWidth") > 0
    assert_accessible(kiosk, axe, "ticket, nobody qualified")

    # Yamada comes to the console and becomes available.
    staff.goto("/staff/login")
    staff.fill("#login", "yamada")
    staff.fill("#password", "demo")
    staff.click("form.narrow-form button[type=submit]")
    staff.wait_for_url(re.compile(r"/staff$"))
    staff.goto("/staff/counter")
    staff.click('button[data-presence-choice="available"]')
    staff.wait_for_selector('#presence-now[data-presence="available"]')

    # The ticket screen follows by itself: an estimate now, and no apology.
    kiosk.wait_for_selector("#ticket-estimate")
    assert kiosk.url == ticket_url
    assert kiosk.locator("#ticket-estimate").inner_text() == "待ち時間の目安：約1分"
    assert kiosk.locator("#ticket-unstaffed").count() == 0
    assert kiosk.locator("#ticket-other-ways").count() == 0
    assert_accessible(kiosk, axe, "ticket, staff available")

    # In English, one minute is singular.
    kiosk.goto(ticket_url + "?lang=en")
    assert kiosk.locator("#ticket-estimate").inner_text() == "Estimated wait: about 1 minute"
    assert_accessible(kiosk, axe, "ticket, staff available (en)")
