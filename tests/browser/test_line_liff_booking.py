"""In real headless Chromium: a LIFF-style booking with LINE Login, then its notice on LINE.

The booking page is opened as LINE's in-app browser would open the LIFF app;
the resident taps 「LINEでお知らせを受け取る」, signs in at the OpenID provider
(a real ``oidc-provider-mock`` process standing in for LINE Login), comes back
to the form, books, and the confirmation reaches their LINE account on the
stand-in LINE platform (a real process). All of it runs inside the harness's
loopback-only namespace: the providers are started by this test's thread,
which has joined it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from browser_harness import AppInNetns
from line_platform import LinePlatform  # type: ignore[import-not-found]
from oidc_provider import OidcProvider  # type: ignore[import-not-found]

from app.core.clock import OffsetClock
from media.loopback import NetworkNamespace

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 45_000
TOKEN = "liff-test-token-" + "t" * 20
CHANNEL_ID = "1650000001"
LINE_USER = "U" + "e" * 32
# LINE's in-app browser announces itself like this.
LINE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36 Line/14.6.0/IAB"
)


@pytest.fixture
def providers(netns_here: NetworkNamespace) -> Iterator[tuple[OidcProvider, LinePlatform]]:
    login = OidcProvider()
    try:
        line = LinePlatform(TOKEN)
        try:
            yield login, line
        finally:
            line.close()
    finally:
        login.close()


@pytest.fixture
def app_env(
    app_env: dict[str, str], providers: tuple[OidcProvider, LinePlatform]
) -> dict[str, str]:
    login, line = providers
    return {
        **app_env,
        "MADOGUCHI_LINE_CHANNEL_SECRET": "liff-channel-secret",
        "MADOGUCHI_LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
        "MADOGUCHI_LINE_API_BASE_URL": line.url,
        "MADOGUCHI_LINE_API_DATA_BASE_URL": line.url,
        "MADOGUCHI_LINE_LOGIN_CHANNEL_ID": CHANNEL_ID,
        "MADOGUCHI_LINE_LOGIN_CHANNEL_SECRET": "liff-login-secret",
        "MADOGUCHI_LINE_LOGIN_ISSUER": login.issuer,
    }


@pytest.fixture
def app_clock() -> OffsetClock:
    """The app on the wall clock here: the OpenID provider process signs ID
    tokens with the real time, and the app must judge their expiry on the same
    one. The tiny city is open all day, so no time of day can skip this test."""
    return OffsetClock(datetime.now(UTC))


def next_slot(app: AppInNetns) -> str:
    """A 5-minute step of the tiny city's all-day service, half an hour ahead on the app's clock."""
    now = app.clock.now() + timedelta(minutes=30)
    start = now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)
    return start.astimezone(ZoneInfo("Asia/Tokyo")).isoformat()


def test_a_liff_booking_with_line_login_is_linked_and_notified_on_line(
    app_in_netns: AppInNetns,
    chromium_in_netns: Browser,
    providers: tuple[OidcProvider, LinePlatform],
) -> None:
    _, line = providers
    context = chromium_in_netns.new_context(
        base_url=app_in_netns.base_url, user_agent=LINE_UA, locale="ja-JP"
    )
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"/services/1/book?start={quote(next_slot(app_in_netns))}")
    page.click("#line-login")
    # The provider's sign-in page (LINE Login's stand-in).
    page.fill("input[name=sub]", LINE_USER)
    page.click("button[type=submit]:has-text('Authorize')")
    page.wait_for_selector("#line-linked")
    page.fill("#name", "山田 花子")
    page.fill("#email", "hanako@example.jp")
    page.click("button[type=submit].big")
    page.wait_for_url("**/manage/**")

    db = Path(app_in_netns.env["MADOGUCHI_DATABASE_URL"].removeprefix("sqlite:///"))
    with sqlite3.connect(db) as conn:
        links = conn.execute("SELECT line_user_id, via, active FROM line_links").fetchall()
    assert links == [(LINE_USER, "login", 1)]

    deadline = time.monotonic() + 60  # the embedded jobs loop runs every few seconds
    pushes: list[dict[str, object]] = []
    while time.monotonic() < deadline and not pushes:
        pushes = [p for p in line.pushes() if p["json"]["to"] == LINE_USER]
        time.sleep(0.5)
    assert pushes, app_in_netns.log_tail()
    messages = pushes[0]["json"]["messages"]  # type: ignore[index]
    assert "ご予約を受け付けました" in messages[0]["text"]
    assert messages[1]["template"]["actions"][0]["uri"].startswith(app_in_netns.base_url + "/join/")
    context.close()
