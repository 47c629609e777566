"""English pages in real Chromium: kiosk names, branch addresses and department
names in English where the city file gives English forms (Japanese where it
gives none), and the staff ring naming the kiosk and branch of the walk-in.
Every page visited is checked with axe-core.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from axe_harness import assert_accessible, load_axe
from browser_call_steps import (
    db_path,
    kiosk_home_path,
    kiosk_sized_page,
    log_in,
    open_counter_available,
    ringing_offer,
    ticket_for_the_first_service,
)
from browser_harness import AppInNetns, branch, build_city_yaml, kiosk_entry
from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Open all day. The first kiosk and branch have English forms, the library
# kiosk has none (English pages show its Japanese name).
ENGLISH_CITY_YAML = build_city_yaml(
    branches=[
        branch(
            address_en="1-2-3 Kitamachi, Test City",
            kiosks=[
                kiosk_entry(name_en="North Branch Office remote counter"),
                kiosk_entry("kita-toshokan", "北図書館 リモート窓口"),
            ],
        )
    ],
)


@pytest.fixture
def city_yaml() -> str:
    return ENGLISH_CITY_YAML


@pytest.fixture
def pages(app_in_netns: AppInNetns, chromium_in_netns: Browser) -> Iterator[tuple[Page, Page]]:
    with (
        kiosk_sized_page(chromium_in_netns, app_in_netns.base_url, "en-US") as kiosk,
        kiosk_sized_page(chromium_in_netns, app_in_netns.base_url, "en-US") as staff,
    ):
        yield kiosk, staff


def kiosk_homes(app: AppInNetns) -> dict[str, tuple[str, int]]:
    with sqlite3.connect(db_path(app)) as conn:
        rows = conn.execute("SELECT slug, id FROM kiosks").fetchall()
    return {slug: (kiosk_home_path(app, kid), kid) for slug, kid in rows}


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

    log_in(staff, lang="en")
    open_counter_available(staff, "/staff/counter?lang=en")

    ticket_for_the_first_service(kiosk, home)

    offer = ringing_offer(staff)
    expected = "Incoming call: ticket 1, Counter consultation, at North Branch Office 北図書館 リモート窓口"
    assert offer.locator(".offer-text").inner_text() == expected
    assert staff.locator("#ring-announce").inner_text() == expected
    assert_accessible(staff, axe, "staff counter ringing (en)")
