"""The resident's pre-call check says how this network connects.

A resident books the next slot of the tiny all-day city and runs the real
pre-call check on the join page (``/join/{token}``, Japanese), from the
resident network, against the app's echo peer in the DMZ:

* nothing blocked: a direct path works, and the check says so;
* only TCP 443 out: only the relay server (TURNS on 443) works, and the check
  says that direct connections are blocked but calls work through the relay;
* nothing but the app: no path at all, and the check tells the resident what
  to ask their network team for, naming this site and the relay's ports.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from browsers import browser_in
from city_harness import PUBLIC_URL, City
from topology import DMZ_PUBLIC, TURN_ADDR

if TYPE_CHECKING:
    from playwright.sync_api import Playwright

pytestmark = [pytest.mark.browser, pytest.mark.media, pytest.mark.slow]

CHECK_MS = 60_000
TOKYO = ZoneInfo("Asia/Tokyo")


def join_url(city: City) -> str:
    """Book the next free slot over the resident API; the join link it returns."""

    async def book() -> str:
        async with httpx.AsyncClient(base_url=PUBLIC_URL, trust_env=False, timeout=10) as client:
            today = datetime.now(TOKYO).date()
            window = {"from": str(today), "to": str(today + timedelta(days=1))}
            slots = (await client.get("/api/v1/services/1/availability", params=window)).json()
            body = {
                "service_id": 1,
                "start": slots["slots"][0]["start"],
                "channel": "online",
                "name": "山田 花子",
                "email": "hanako@example.jp",
            }
            booking = await client.post("/api/v1/bookings", json=body)
            assert booking.status_code == 201, booking.text
            url: str = booking.json()["join_url"]
            return url

    return city.net.resident.run(book, timeout=30)


def run_check(
    city: City, playwright: Playwright, chromium: str, tmp_path: Path, egress: str
) -> dict[str, Any]:
    url = join_url(city)  # booked while the network is open
    city.net.set_egress(egress)
    with browser_in(playwright, city, city.net.resident, chromium, tmp_path) as browser:
        context = browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo")
        context.set_default_timeout(CHECK_MS)
        page = context.new_page()
        page.goto(url)
        page.click("#btn-devices")
        page.wait_for_selector("#call-app[data-checked]")
        root = page.locator("#call-app")
        return {
            "path": root.get_attribute("data-path"),
            "text": page.locator("#check-path").inner_text(),
            "network": page.locator('#check-list [data-item="network"]').get_attribute(
                "data-status"
            ),
        }


@pytest.fixture(autouse=True)
def reopen(city: City) -> None:
    city.net.set_egress("udp")


def test_the_check_says_a_direct_path_works(
    city: City, playwright: Playwright, chromium_path: str, tmp_path: Path
) -> None:
    seen = run_check(city, playwright, chromium_path, tmp_path, "udp")
    assert seen == {"path": "direct", "text": "この端末は直接接続できます。", "network": "pass"}


def test_the_check_says_when_only_the_relay_works(
    city: City, playwright: Playwright, chromium_path: str, tmp_path: Path
) -> None:
    seen = run_check(city, playwright, chromium_path, tmp_path, "tls")
    assert seen["path"] == "relay", seen
    assert seen["network"] == "pass", seen
    assert seen["text"].startswith("中継サーバー経由でのみ接続できました。"), seen


def test_the_check_says_what_to_ask_the_network_team_when_nothing_works(
    city: City, playwright: Playwright, chromium_path: str, tmp_path: Path
) -> None:
    seen = run_check(city, playwright, chromium_path, tmp_path, "none")
    assert seen["path"] == "none", seen
    assert seen["network"] == "fail", seen
    text = seen["text"]
    assert "ネットワーク管理者" in text, text
    assert f"{DMZ_PUBLIC} への HTTPS（TCP 443）" in text, text
    # The relay server and the ports of the TURN URLs the app hands out.
    assert re.search(
        rf"中継サーバー {re.escape(TURN_ADDR)} への UDP 3478 / TCP 3478 / TCP 5349 / TCP 443 の通信",
        text,
    ), text
