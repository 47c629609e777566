"""The shared page helpers of web/static/js/lib/ in real headless Chromium: the
copy-link buttons (lib/copy.js) on the resident's booking page and the staff
schedule, and the notes autosave (lib/notes.js) on the staff booking page.

Runs in the shared harness (``conftest.py``): ``madoguchi serve`` and Chromium
inside a loopback-only network namespace, the tiny all-day city.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from browser_harness import STAFF_LOGIN, STAFF_PASSWORD, AppInNetns

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser]

TIMEOUT_MS = 20_000
NOTES = "転入届の書類を案内した。"
# #notes-status reads the form's data-saved-text with a time in place of {time}.
SAYS_SAVED = """(template) => {
    const [before, after] = template.split("{time}");
    const text = document.getElementById("notes-status").textContent;
    return text.startsWith(before) && text.endsWith(after)
        && /\\d/.test(text.slice(before.length, text.length - after.length));
}"""


def new_page(browser: Browser, app: AppInNetns) -> Page:
    context = browser.new_context(base_url=app.base_url, locale="ja-JP", timezone_id="Asia/Tokyo")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.base_url)
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def copy_and_check(page: Page, target: str, expected: str) -> None:
    """Click the copy button of #target: the clipboard holds `expected`, and
    #target-status says so in the page's words."""
    button = page.locator(f'button[data-copy-target="{target}"]')
    assert button.is_visible(), "the module shows the button (hidden without JS)"
    button.click()
    copied = button.get_attribute("data-copied-text")
    assert copied
    page.wait_for_function(
        "([id, text]) => document.getElementById(id).textContent === text",
        arg=[f"{target}-status", copied],
    )
    assert page.evaluate("() => navigator.clipboard.readText()") == expected


def test_copy_buttons_and_notes_autosave(
    app_in_netns: AppInNetns, chromium_in_netns: Browser
) -> None:
    # -- the resident books and copies the join link ----------------------------------
    resident = new_page(chromium_in_netns, app_in_netns)
    resident.goto("/")
    resident.locator("a.card").first.click()  # the department
    resident.locator("a.card").first.click()  # the service
    resident.locator("a.day:not(.full)").first.click()
    resident.locator("a.time-button").first.click()
    resident.fill("#name", "山田 花子")
    resident.fill("#email", "hanako@example.jp")
    resident.locator("form button[type=submit]").last.click()
    resident.wait_for_url(re.compile(r"/manage/"))
    code = resident.locator(".booking-code").inner_text().strip()
    join_url = resident.locator("#join-link").inner_text().strip()
    assert "/join/" in join_url
    copy_and_check(resident, "join-link", join_url)
    manage_url = resident.locator("#manage-link").inner_text().strip()
    copy_and_check(resident, "manage-link", manage_url)

    # -- staff: notes save themselves while typing -------------------------------------
    staff = new_page(chromium_in_netns, app_in_netns)
    staff.goto("/staff/login")
    staff.fill("#login", STAFF_LOGIN)
    staff.fill("#password", STAFF_PASSWORD)
    staff.locator("form button[type=submit]").last.click()
    staff.wait_for_url(re.compile(r"/staff$"))
    staff.goto(f"/staff/bookings/{code}")
    saved = staff.locator("#notes-form").get_attribute("data-saved-text")
    assert saved and "{time}" in saved
    assert staff.locator("#notes-status").inner_text() == "", "nothing saved yet"
    staff.locator("#notes").press_sequentially(NOTES)
    # No "Save notes" click: the pause after typing saves, and says when.
    staff.wait_for_function(SAYS_SAVED, arg=saved)
    staff.reload()
    assert staff.locator("#notes").input_value() == NOTES

    # -- staff: the calendar feed link ---------------------------------------------------
    staff.goto("/staff/schedule")
    feed = staff.locator("#feed-url").input_value()
    assert feed.startswith("http")
    copy_and_check(staff, "feed-url", feed)
