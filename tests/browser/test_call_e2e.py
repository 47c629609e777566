"""End to end in real headless Chromium: a resident books, checks devices and
waits; a staff member logs in, sees them waiting, joins; both hear and see
each other; the staff member records an outcome and ends the call.

Everything runs inside a fresh loopback-only network namespace (see
``conftest.py``): ``madoguchi serve`` on SQLite seeded by ``madoguchi import``
with the tiny all-day city, and one Chromium with two browser contexts (one
person each) using a fake camera and microphone. ICE server lists are empty;
Chromium is allowed loopback candidates.

The city is open every day 00:00-23:59 with no minimum notice and a 5-minute
slot step, join links open 2 hours early (``app_env``), and the app runs on
the harness's clock (``app_clock``: a weekday 10:00 in Tokyo, running), so the
earliest slot the pages offer is today's and joinable at once, whatever the
wall clock says.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from browser_call_steps import person
from browser_harness import (
    STAFF_LOGIN,
    STAFF_NAME,
    STAFF_PASSWORD,
    AppInNetns,
    assert_media_flows,
    wait_connected,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.media, pytest.mark.slow]

RESIDENT_NAME = "山田 花子"
NOTES = "転入届の書類を案内した。"


class Timings:
    """Phase durations, printed at the end (``pytest -s``) and on failure."""

    def __init__(self) -> None:
        self.start = self.last = time.monotonic()
        self.phases: list[tuple[str, float]] = []

    def mark(self, phase: str) -> None:
        now = time.monotonic()
        self.phases.append((phase, now - self.last))
        self.last = now

    def __str__(self) -> str:
        lines = [f"  {name:<28} {seconds:6.1f} s" for name, seconds in self.phases]
        lines.append(f"  {'total':<28} {time.monotonic() - self.start:6.1f} s")
        return "\n".join(lines)


def book_next_slot(page: Page) -> tuple[str, str]:
    """Book the earliest slot through the resident pages; (booking code, join path)."""
    page.goto("/")
    page.locator("a.card").first.click()  # the department
    page.locator("a.card").first.click()  # the service
    page.locator("a.day:not(.full)").first.click()
    page.locator("a.time-button").first.click()
    page.fill("#name", RESIDENT_NAME)
    page.fill("#email", "hanako@example.jp")
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r"/manage/"))
    code = page.locator(".booking-code").inner_text().strip()
    join_url = page.locator("#join-link").get_attribute("href")
    assert code and join_url, "the confirmation page shows the code and the join link"
    return code, join_url


@dataclass
class Call:
    resident: Page
    staff: Page
    code: str
    join_url: str


@contextmanager
def call_in_progress(app: AppInNetns, browser: Browser, timings: Timings) -> Iterator[Call]:
    """Book, check, wait, log in, join: both sides connected with media flowing."""
    logs: list[str] = []
    try:
        with (
            person(browser, app.base_url, logs, "resident") as resident,
            person(browser, app.base_url, logs, "staff") as staff,
        ):
            # -- the resident books the next slot and opens the join link -------------
            code, join_url = book_next_slot(resident)
            timings.mark("resident booked")
            resident.goto(join_url)
            assert resident.locator("#call-app").get_attribute("data-mode") == "open"
            resident.click("#btn-devices")
            resident.wait_for_selector("#call-app[data-checked]")
            report = resident.evaluate("() => window.madoguchiJoin.report")
            assert report["passed"] is True, report
            for item in ("camera", "microphone", "network"):
                row = resident.locator(f'#check-list [data-item="{item}"]')
                assert row.get_attribute("data-status") == "pass"
                assert row.locator(".check-result").inner_text() == "問題ありません"
            timings.mark("device and pre-call check")
            resident.click("#btn-enter")
            resident.wait_for_selector("#call-app[data-call-state=waiting]")
            assert "職員がまもなく参加します" in resident.locator("#wait-status").inner_text()
            timings.mark("resident in waiting room")

            # -- staff log in, see the resident waiting, join ---------------------------
            staff.goto("/staff/login")
            staff.fill("#login", STAFF_LOGIN)
            staff.fill("#password", STAFF_PASSWORD)
            staff.locator("form button[type=submit]").last.click()
            staff.wait_for_url(re.compile(r"/staff$"))
            assert STAFF_NAME in staff.content()
            # The queue updates itself (SSE) once the waiting room event is recorded.
            row = staff.locator(f'tr[data-code="{code}"]')
            staff.wait_for_selector(f'tr[data-code="{code}"][data-state="waiting"]')
            assert RESIDENT_NAME in row.inner_text()
            timings.mark("staff sees resident waiting")
            row.locator("a.join").click()
            staff.wait_for_url(re.compile(rf"/staff/call/{code}$"))
            staff.click("#btn-join")

            # -- both connected, media both ways -------------------------------------
            wait_connected(staff, resident)
            timings.mark("both connected")
            assert_media_flows(staff, "staff")
            assert_media_flows(resident, "resident")
            assert resident.locator("#step-call").is_visible()
            assert resident.locator("#btn-mute").get_attribute("aria-pressed") == "false"
            timings.mark("media checked both ways")
            yield Call(resident, staff, code, join_url)
        print(f"\ncall e2e timings:\n{timings}")
    except BaseException:
        print(f"\ncall e2e timings so far:\n{timings}")
        print("\n".join(logs[-80:]))
        print("--- madoguchi serve (tail) ---\n" + app.log_tail(80))
        raise


def end_with_outcome(call: Call, timings: Timings) -> None:
    staff, resident = call.staff, call.resident
    staff.fill("#notes", NOTES)
    staff.check("#outcome-completed")
    staff.click("#btn-end")
    # The outcome is saved, then the staff page opens the call's wrap-up.
    staff.wait_for_url(re.compile(r"/staff/records/\d+/wrapup$"))
    resident.wait_for_selector("#call-app[data-call-state=ended]")
    assert resident.locator("#step-ended").is_visible()
    assert "相談は終了しました" in resident.locator("#ended-text").inner_text()
    timings.mark("outcome recorded, call ended")


def record_of(app: AppInNetns, code: str) -> tuple[str, str, list[str]]:
    """(outcome, notes, call event kinds) of a booking, from the app's SQLite."""
    db = app.env["MADOGUCHI_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        outcome, notes = conn.execute(
            "SELECT c.outcome, c.notes FROM consultations c "
            "JOIN bookings b ON b.id = c.booking_id WHERE b.code = ?",
            (code,),
        ).fetchone()
        kinds = [
            k
            for (k,) in conn.execute(
                "SELECT e.kind FROM call_events e JOIN bookings b ON b.room_id = e.room "
                "WHERE b.code = ? ORDER BY e.id",
                (code,),
            )
        ]
    return outcome, notes, kinds


def test_resident_and_staff_call_end_to_end(
    app_in_netns: AppInNetns, chromium_in_netns: Browser
) -> None:
    timings = Timings()
    with call_in_progress(app_in_netns, chromium_in_netns, timings) as call:
        end_with_outcome(call, timings)
        # The link now leads to a page saying the consultation has ended.
        call.resident.goto(call.join_url)
        assert call.resident.locator("[data-problem=ended]").is_visible()
    outcome, notes, kinds = record_of(app_in_netns, call.code)
    assert (outcome, notes) == ("completed", NOTES)
    assert "call-start" in kinds and "call-end" in kinds, kinds


def test_resident_socket_drop_resumes_and_restarts_ice(
    app_in_netns: AppInNetns, chromium_in_netns: Browser
) -> None:
    """Wi-Fi drop on the resident's side: the signaling socket dies, the client
    reconnects and resumes its seat with the session id, the staff side (the
    initiator) restarts ICE, and media flows again."""
    timings = Timings()
    with call_in_progress(app_in_netns, chromium_in_netns, timings) as call:
        resident, staff = call.resident, call.staff
        session = resident.evaluate("() => window.madoguchiCall.signaling.session")
        resident.evaluate("() => { const s = window.madoguchiCall.signaling; s.drop(s.ws); }")
        resident.wait_for_function("() => window.madoguchiCall.signaling.resumes >= 1")
        assert resident.evaluate("() => window.madoguchiCall.signaling.reconnects") >= 1
        assert resident.evaluate("() => window.madoguchiCall.signaling.session") == session
        staff.wait_for_function("() => window.madoguchiCall.restarts >= 1")
        wait_connected(staff, resident)
        assert resident.locator("#banner-reconnecting").is_hidden()
        timings.mark("resumed, ICE restarted")
        assert_media_flows(staff, "staff after restart")
        assert_media_flows(resident, "resident after restart")
        end_with_outcome(call, timings)
    _outcome, _notes, kinds = record_of(app_in_netns, call.code)
    assert "reconnecting" in kinds and "resumed" in kinds, kinds


UFRAG = """(which) => {
    const pc = window.madoguchiCall.pc;
    const d = which === "local" ? pc.localDescription : pc.remoteDescription;
    const m = d && /a=ice-ufrag:(\\S+)/.exec(d.sdp);
    return m ? m[1] : null;
}"""


# Staff restarts ICE, and the resident's answer is held back until staff has
# restarted again (as when `peer-resumed` follows `restart-ice` after both
# peers' node died); then both answers are delivered, in order.
TWO_RESTARTS_ANSWERS_HELD = """async () => {
    const peers = window.madoguchiCall.peers;
    const id = [...peers.peers.keys()][0];
    const deliver = peers.onMessage.bind(peers);
    const held = [];
    peers.onMessage = (msg) => (msg.type === "answer" ? held.push(msg) : deliver(msg));
    const offers = () => peers.log.filter((line) => /offer .*sent to/.test(line)).length;
    const until = async (ok) => {
        while (!ok()) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    const before = offers();
    peers.restart(id);
    await until(() => offers() === before + 1 && held.length === 1);
    peers.restart(id);
    await until(() => offers() === before + 2 && held.length === 2);
    peers.onMessage = deliver;
    for (const msg of held) deliver(msg);
}"""


def test_a_stale_answer_is_not_applied_after_a_second_restart(
    app_in_netns: AppInNetns, chromium_in_netns: Browser
) -> None:
    """The initiator (staff) offers an ICE restart twice, and the answer to the
    first offer arrives after the second was sent. Staff must apply only the
    answer to its latest offer (negotiation ids), so both sides end on the same
    ICE credentials and media flows."""
    timings = Timings()
    with call_in_progress(app_in_netns, chromium_in_netns, timings) as call:
        resident, staff = call.resident, call.staff
        staff.evaluate(TWO_RESTARTS_ANSWERS_HELD)
        staff.wait_for_function(
            "() => window.madoguchiCall.log.some((l) => l.includes('stale answer'))"
        )
        staff.wait_for_function("() => window.madoguchiCall.pc.signalingState === 'stable'")
        # The answer staff applied is the resident's current one.
        assert staff.evaluate(UFRAG, "remote") == resident.evaluate(UFRAG, "local")
        assert resident.evaluate(UFRAG, "remote") == staff.evaluate(UFRAG, "local")
        wait_connected(staff, resident)
        timings.mark("two restarts settled")
        assert_media_flows(staff, "staff after two restarts")
        assert_media_flows(resident, "resident after two restarts")
        end_with_outcome(call, timings)
