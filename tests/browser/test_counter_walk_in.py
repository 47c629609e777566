"""End to end in real headless Chromium: a walk-in at a kiosk, routed to staff.

A staff member of the welfare division (qualified for the general counter's
service, which belongs to another division) opens the remote counter and
becomes available. At the kiosk a visitor touches "I do not have a booking",
then the service button, and gets ticket number 1 with an estimated wait.
The staff console rings (visible, announced); the staff member answers and
lands in the call; the kiosk's ticket screen moves to the call screen by
itself; both reach ``connected`` with video frames decoded and audio
received on both sides; "end the call" ends it for both and closes the
ticket.

Runs in the shared harness (``conftest.py``): ``madoguchi serve`` and
Chromium with a fake camera and microphone inside a loopback-only namespace.
"""

from __future__ import annotations

import re
import sqlite3
from typing import TYPE_CHECKING

import pytest
from browser_call_steps import (
    accept,
    db_path,
    kiosk_home_path,
    log_in,
    open_counter_available,
    person,
    reported_on_failure,
    ringing_offer,
    walk_in,
)
from browser_harness import (
    STAFF_LOGIN,
    AppInNetns,
    assert_media_flows,
    build_city_yaml,
    department,
    hours,
    interpreter_entry,
    interpreter_language,
    staff_member,
    wait_connected,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.media, pytest.mark.slow]

# Open all day, every day (holidays too); the app's clock (conftest.app_clock)
# is a weekday 10:00, so the interpreter is free for the whole call. The
# service belongs to the general counter, the staff member to welfare.
# Portuguese has an interpreter at work all the time; Vietnamese has nobody.
COUNTER_CITY_YAML = build_city_yaml(
    departments=[
        department(),
        department("fukushi", "福祉課", "Welfare Division", hours=hours(days=["mon"])),
    ],
    staff=[staff_member(departments=["fukushi"])],
    interpreter_languages=[
        interpreter_language("pt", "ポルトガル語", "Portuguese", "Português"),
        interpreter_language("vi", "ベトナム語", "Vietnamese", "Tiếng Việt"),
    ],
    interpreters=[interpreter_entry("silva", "Ana Silva", ["pt"])],
)


@pytest.fixture
def city_yaml() -> str:
    return COUNTER_CITY_YAML


def test_walk_in_from_the_kiosk_answered_at_the_staff_counter(
    app_in_netns: AppInNetns, chromium_in_netns: Browser
) -> None:
    app = app_in_netns
    db = db_path(app)
    home = kiosk_home_path(app)
    logs: list[str] = []
    with (
        reported_on_failure(app, logs),
        person(chromium_in_netns, app.base_url, logs, "kiosk") as kiosk,
        person(chromium_in_netns, app.base_url, logs, "staff") as staff,
    ):
        # -- staff: log in, open the counter, become available ---------------------------
        log_in(staff)
        open_counter_available(staff)
        assert staff.locator("#offers li").count() == 0

        # -- the visitor: no booking, the service button, a ticket ------------------------
        # The resident needs a Portuguese interpreter: the button in Portuguese.
        walk_in(kiosk, home, "窓口での相談", language="pt")
        assert kiosk.locator(".kiosk-ticket-number").inner_text().endswith("1")
        assert kiosk.locator("#ticket-interpreter").inner_text() == "通訳：Português"
        assert "待ち時間の目安" in kiosk.locator("#ticket-estimate").inner_text()

        # -- the ring, answered -------------------------------------------------------------
        offer = ringing_offer(staff)
        assert "受付番号 1" in offer.inner_text()
        assert "受付番号 1" in staff.locator("#ring-announce").inner_text()
        assert staff.evaluate("() => document.body.classList.contains('counter-ringing')")
        assert staff.title().startswith("●")
        accept(staff, offer)

        # -- the kiosk follows into the call; media both ways ----------------------------
        kiosk.wait_for_url(re.compile(rf"{re.escape(home)}/ticket/\d+/call$"))
        wait_connected(staff, kiosk)
        assert_media_flows(staff, "staff")
        assert_media_flows(kiosk, "kiosk")

        # -- the interpreter was called on accepting; withdraw, ask again -----------------
        status = staff.locator("#interp-status")
        assert "Ana Silva さん（ポルトガル語）を呼び出しました" in status.inner_text()
        staff.click("#btn-interpreter-cancel")
        staff.wait_for_function(
            "() => document.getElementById('interp-status').textContent"
            " === '依頼を取り消しました。'"
        )
        staff.select_option("#interp-language", "vi")
        staff.click("#btn-interpreter")
        staff.wait_for_function(
            "() => document.getElementById('interp-free').textContent"
            " === 'いま対応できる言語：ポルトガル語'"
        )
        assert status.inner_text() == "この言語の通訳者で、いま対応できる人がいません。"
        staff.select_option("#interp-language", "pt")
        staff.click("#btn-interpreter")
        staff.wait_for_selector("#interpreter-form[hidden]", state="attached")
        assert "Ana Silva さん（ポルトガル語）を呼び出しました" in status.inner_text()

        # -- the end ---------------------------------------------------------------------------
        staff.click("#btn-end")
        kiosk.wait_for_selector("#call-app[data-call-state=ended]")
        # The staff member's part ends on the call's wrap-up (test_call_wrapup.py).
        staff.wait_for_url(re.compile(r"/staff/records/\d+/wrapup$"))
    with sqlite3.connect(db) as conn:
        status, staff_login = conn.execute(
            "SELECT t.status, s.login FROM queue_tickets t JOIN staff s ON s.id = t.staff_id"
        ).fetchone()
        presence = conn.execute("SELECT status FROM staff_presence").fetchone()[0]
        calls = conn.execute(
            "SELECT language, release_reason FROM interpreter_calls ORDER BY id"
        ).fetchall()
    assert (status, staff_login, presence) == ("done", STAFF_LOGIN, "available")
    # Called on accept, withdrawn, called again, released when the call ended.
    assert [tuple(c) for c in calls] == [("pt", "cancelled"), ("pt", "ticket-done")]
