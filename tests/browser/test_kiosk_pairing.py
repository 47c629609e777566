"""In real headless Chromium: pair a kiosk, watch its heartbeat on the board, lock it out.

An administrator (one browser context) issues a pairing code on the kiosk
status board; the device (another context) types it at ``/kiosk/pair`` and
lands on its start screen; its heartbeat script reports the fake camera and
microphone, and the board, refreshing itself, shows the kiosk idle. Revoking
the device on the board locks the kiosk screen out at its next heartbeat.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from browser_call_steps import person
from browser_harness import AppInNetns

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

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
services:
  - slug: madoguchi
    department: soudan
    name_ja: 窓口での相談
    name_en: Counter consultation
    duration: 20
    channels: [kiosk]
    min_notice: 0
staff:
  - login: kanri
    display_name: 管理 花子
    is_admin: true
    password: demo
branches:
  - slug: kita
    name_ja: 北支所
    name_en: North Branch Office
    kiosks:
      - slug: kita-1
        name: 北支所 リモート窓口
"""


@pytest.fixture
def city_yaml() -> str:
    return CITY_YAML


@pytest.fixture
def app_env(app_env: dict[str, str]) -> dict[str, str]:
    # Heartbeats (and so the board's refresh) every five seconds.
    return {
        **app_env,
        "MADOGUCHI_KIOSK_HEARTBEAT_SECONDS": "5",
        "MADOGUCHI_KIOSK_SILENT_ALERT_SECONDS": "60",
    }


def test_pair_report_and_lock_out_a_kiosk(
    app_in_netns: AppInNetns, chromium_in_netns: Browser
) -> None:
    app = app_in_netns
    logs: list[str] = []
    try:
        with (
            person(chromium_in_netns, app.base_url, logs, "admin") as admin,
            person(chromium_in_netns, app.base_url, logs, "kiosk") as kiosk,
        ):
            admin.goto("/staff/login")
            admin.fill("#login", "kanri")
            admin.fill("#password", "demo")
            admin.click("form.narrow-form button[type=submit]")
            admin.wait_for_url(re.compile(r"/staff$"))
            admin.goto("/admin/kiosk-status?lang=ja")
            row = admin.locator("tr[data-kiosk]")
            assert row.get_attribute("data-state") == "not-paired"
            kiosk_id = row.get_attribute("data-kiosk")
            row.locator('form[action$="/pairing"] button').click()
            code = admin.locator("[data-pairing-code]").get_attribute("data-pairing-code")
            assert code and re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", code)

            # -- the device: type the code, land on the kiosk's start screen ----------------
            kiosk.goto("/kiosk/device?lang=ja")
            assert kiosk.locator('[data-error="kiosk-device-locked"]').is_visible()
            kiosk.click('a[href="/kiosk/pair"]')
            kiosk.fill("#pair-code", code.lower())
            kiosk.click("form.kiosk-code-form button[type=submit]")
            kiosk.wait_for_url(re.compile(r"/kiosk/device\?lang=ja$"))
            assert "北支所" in kiosk.locator(".kiosk-welcome").inner_text()
            kiosk.wait_for_selector("body[data-heartbeat-state=ok]")

            # -- the board refreshes itself and shows the kiosk reporting -----------------------
            admin.goto("/admin/kiosk-status?lang=ja")
            admin.wait_for_selector(f'tr[data-kiosk="{kiosk_id}"][data-state="idle"]')
            assert "秒前" in admin.locator(f'tr[data-kiosk="{kiosk_id}"]').inner_text()

            # -- revoke: the kiosk is locked out at its next heartbeat --------------------------
            admin.locator(f'tr[data-kiosk="{kiosk_id}"] form[action$="/revoke"] button').click()
            admin.wait_for_url(re.compile(r"/admin/kiosk-status\?done=revoked$"))
            kiosk.wait_for_selector('[data-error="kiosk-device-locked"]')
            assert kiosk.url.endswith("/kiosk/device?lang=ja")
    except BaseException:
        print("\n".join(logs[-40:]))
        print(app.log_tail())
        raise
    assert not [line for line in logs if "pageerror" in line]
