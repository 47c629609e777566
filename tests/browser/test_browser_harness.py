"""The shared browser fixtures work: the app and Chromium share a private namespace."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest
from browser_harness import AppInNetns

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_app_and_chromium_in_namespace(
    app_in_netns: AppInNetns, chromium_in_netns: Browser
) -> None:
    namespace, base_url = app_in_netns
    assert namespace.pids(), "the app runs inside the namespace"
    # The test thread is inside the namespace too: the app answers on its loopback.
    config = httpx.get(f"{base_url}/api/v1/rtc-config", trust_env=False).json()
    assert config["iceServers"] == []
    context = chromium_in_netns.new_context(base_url=base_url, locale="ja-JP")
    try:
        page = context.new_page()
        page.goto("/")
        assert page.locator("html").get_attribute("lang") == "ja"
        assert "総合相談課" in page.content()
    finally:
        context.close()
