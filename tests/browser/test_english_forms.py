"""English pages in real Chromium: kiosk names, branch addresses and department
names in English where the city file gives English forms (Japanese where it
gives none), and the staff ring naming the kiosk and branch of the walk-in.
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

# Open all day. The first kiosk and branch have English forms, the library
# kiosk has none (English pages show its Japanese name).
ENGLISH_CITY_YAML = """\
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
    address_en: 1-2-3 Kitamachi, Test City
    kiosks:
      - slug: kita-1
        name: 北支所 リモート窓口
        name_en: North Branch Office remote counter
      - slug: kita-toshokan
        name: 北図書館 リモート窓口
"""


@pytest.fixture
def city_yaml() -> str:
    return ENGLISH_CITY_YAML


def context_of(browser: Browser, app: AppInNetns, locale: str) -> BrowserContext:
    context = browser.new_context(
        base_url=app.base_url, locale=locale, viewport=VIEWPORT, bypass_csp=True
    )
    context.set_default_timeout(30_000)
    return context


@pytest.fixture
def pages(app_in_netns: AppInNetns, chromium_in_netns: Browser) -> Iterator[tuple[Page, Page]]:
    kiosk = context_of(chromium_in_netns, app_in_netns, "en-US")
    staff = context_of(chromium_in_netns, app_in_netns, "en-US")
    try:
        yield kiosk.new_page(), staff.new_page()
    finally:
        kiosk.close()
        staff.close()


def kiosk_homes(app: AppInNetns) -> dict[str, tuple[str, int]]:
    db = app.env["MADOGUCHI_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT slug, id FROM kiosks").fetchall()
    expires = app.clock.now() + timedelta(days=1)
    return {
        slug: (f"/kiosk/{Tokens(SECRET).issue(Purpose.KIOSK, {'k': kid}, expires=expires)}", kid)
        for slug, kid in rows
    }


def test_english_pages_name_kiosks_branches_and_departments_in_english(
    app_in_netns: AppInNetns, pages: tuple[Page, Page]
) -> None:
    axe = load_axe()
    kiosk, _ = pages
    homes = kiosk_homes(app_in_netns)
    home, kiosk_id = homes["kita-1"]

    kiosk.goto(f"{home}/walk-in?lang=en")
    contacts = kiosk.locator(".kiosk-contacts").inner_text()
    assert "North Branch Office" in contacts and "1-2-3 Kitamachi, Test City" in contacts
    assert "てすと市" not in contacts
    assert "“North Branch Office remote counter”" in kiosk.locator(".kiosk-book").inner_text()
    service = kiosk.locator("button.kiosk-service").first.inner_text()
    assert "Counter consultation" in service and "General Consultation Division" in service
    assert_accessible(kiosk, axe, "walk-in (en)")

    # The booking pages behind the kiosk's QR code, in English.
    kiosk.goto(f"/kiosk-booking/{kiosk_id}?lang=en")
    assert kiosk.locator("h1").inner_text() == "Book a time at North Branch Office remote counter"
    assert_accessible(kiosk, axe, "kiosk booking (en)")

    # A kiosk the city gave no English name keeps its Japanese one; in Japanese, Japanese.
    library, _ = homes["kita-toshokan"]
    kiosk.goto(f"{library}/walk-in?lang=en")
    assert "“North Branch Office 北図書館 リモート窓口”" in (
        kiosk.locator(".kiosk-book").inner_text()
    )
    kiosk.goto(f"{home}/walk-in?lang=ja")
    assert "てすと市北町1丁目2番3号" in kiosk.locator(".kiosk-contacts").inner_text()
    assert "「北支所 リモート窓口」" in kiosk.locator(".kiosk-book").inner_text()


def test_the_staff_ring_names_the_kiosk_and_branch_of_the_walk_in(
    app_in_netns: AppInNetns, pages: tuple[Page, Page]
) -> None:
    axe = load_axe()
    kiosk, staff = pages
    home, _ = kiosk_homes(app_in_netns)["kita-toshokan"]

    staff.goto("/staff/login?lang=en")
    staff.fill("#login", "yamada")
    staff.fill("#password", "demo")
    staff.click("form.narrow-form button[type=submit]")
    staff.wait_for_url(re.compile(r"/staff$"))
    staff.goto("/staff/counter?lang=en")
    staff.click('button[data-presence-choice="available"]')
    staff.wait_for_selector('#presence-now[data-presence="available"]')

    kiosk.goto(f"{home}/walk-in?lang=ja")
    kiosk.locator("button.kiosk-service").first.click()
    kiosk.wait_for_url(re.compile(r"/ticket/\d+$"))

    offer = staff.locator("#offers li.offer.ringing")
    offer.wait_for()
    expected = "Incoming call: ticket 1, Counter consultation, at North Branch Office 北図書館 リモート窓口"
    assert offer.locator(".offer-text").inner_text() == expected
    assert staff.locator("#ring-announce").inner_text() == expected
    assert_accessible(staff, axe, "staff counter ringing (en)")
