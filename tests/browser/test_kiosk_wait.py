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

from collections.abc import Iterator

import pytest
from axe_harness import assert_accessible, load_axe
from browser_call_steps import (
    first_id,
    kiosk_home_path,
    kiosk_sized_page,
    log_in,
    open_counter_available,
    ticket_for_the_first_service,
)
from browser_harness import WEEK, AppInNetns, build_city_yaml, hours, staff_member
from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = "0123-45-6789"

# The app's clock is a Wednesday 10:00 (served_clock.CITY_OPEN). Yamada works
# the department's hours (all day) but is not at the console; Sato, also
# qualified, works from 13:00. The city has no English kiosk name on purpose.
WAIT_CITY_YAML = build_city_yaml(
    staff=[
        staff_member(),
        staff_member("sato", "佐藤 花子", hours=hours("13:00-17:00", WEEK[:5])),
    ],
)


@pytest.fixture
def city_yaml() -> str:
    return WAIT_CITY_YAML


@pytest.fixture
def app_env(app_env: dict[str, str]) -> dict[str, str]:
    return {**app_env, "MADOGUCHI_KIOSK_PHONE": PHONE}


@pytest.fixture
def pages(app_in_netns: AppInNetns, chromium_in_netns: Browser) -> Iterator[tuple[Page, Page]]:
    with (
        kiosk_sized_page(chromium_in_netns, app_in_netns.base_url) as kiosk,
        kiosk_sized_page(chromium_in_netns, app_in_netns.base_url) as staff,
    ):
        yield kiosk, staff


def test_a_ticket_with_nobody_qualified_says_so_then_shows_the_wait(
    app_in_netns: AppInNetns, pages: tuple[Page, Page]
) -> None:
    axe = load_axe()
    kiosk, staff = pages
    kiosk_id = first_id(app_in_netns, "kiosks")
    service_id = first_id(app_in_netns, "services")
    home = kiosk_home_path(app_in_netns, kiosk_id)

    ticket_for_the_first_service(kiosk, home)
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
    log_in(staff)
    open_counter_available(staff)

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
