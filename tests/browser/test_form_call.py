"""End to end in real headless Chromium: 書かない窓口 over video.

A resident at a branch kiosk and a staff member are in a real call (the
shared harness: ``madoguchi serve`` and Chromium with a fake camera and
microphone in a loopback-only namespace). The staff member opens the
procedure's form beside the video, pre-filled from the booking, fills it in
with the browser checking each field (kana, 和暦 dates, postal code, a
conditional field, the household as a repeating group), and pushes it over
the call; the kiosk shows it large and read-only, the resident confirms each
page and signs by drawing on the signature pad with pointer events; the staff
member sees the signature, and the PDF holds the resident's name and
address. Then: editing a signed form voids the signature and the resident is
asked again (a walk-in, on the counter's call page).
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import TYPE_CHECKING

import pytest
from axe_harness import assert_accessible, load_axe
from browser_call_steps import (
    KIOSK_VIEWPORT,
    answer_ring,
    book_today,
    db_path,
    first_id,
    kiosk_home_path,
    log_in,
    open_counter_available,
    open_keypad,
    person,
    reported_on_failure,
    type_code,
    walk_in,
)
from browser_harness import (
    AppInNetns,
    build_city_yaml,
    department,
    service,
    staff_member,
    wait_connected,
)
from form_page_helpers import (
    FORM_YAML,
    confirm_and_sign,
    field,
    fill,
    fill_the_form,
    open_form,
    pdf_text,
    push,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.media, pytest.mark.slow]

VISITOR = "高橋 三郎"
PHONE = "09012345678"
ADDRESS = "てすと市北町1丁目2番3号 みどり荘101"
NEW_ADDRESS = "てすと市南町4丁目5番6号"
# Both screens at the kiosk's size, as at a branch office; axe-core is injected.
SCREEN = {"viewport": KIOSK_VIEWPORT, "bypass_csp": True}

FORM_CITY_YAML = (
    build_city_yaml(
        departments=[department("shimin", "市民課", "Citizens Division")],
        services=[service(name_ja="転入の手続き", name_en="Moving in", department="shimin")],
        staff=[staff_member(departments=["shimin"])],
    )
    + FORM_YAML
)


@pytest.fixture
def city_yaml() -> str:
    return FORM_CITY_YAML


def test_staff_fill_in_push_the_kiosk_signs_and_the_pdf_is_made(
    app_in_netns: AppInNetns, chromium_in_netns: Browser
) -> None:
    app = app_in_netns
    axe = load_axe()
    kiosk_id = first_id(app, "kiosks")
    code = book_today(app, VISITOR, "saburo@example.jp", kiosk_id=kiosk_id, phone=PHONE)
    home = kiosk_home_path(app, kiosk_id)
    logs: list[str] = []
    with (
        reported_on_failure(app, logs),
        person(chromium_in_netns, app.base_url, logs, "kiosk", **SCREEN) as kiosk,
        person(chromium_in_netns, app.base_url, logs, "staff", **SCREEN) as staff,
    ):
        open_keypad(kiosk, home)
        type_code(kiosk, code)
        kiosk.click("form.kiosk-code-form button[type=submit]")
        kiosk.wait_for_selector("#call-app[data-call-state=waiting]")

        log_in(staff)
        staff.goto(f"/staff/call/{code}")
        staff.click("#btn-join")
        wait_connected(staff, kiosk)

        # -- the form beside the video, pre-filled from the booking -------------------
        open_form(staff)
        assert staff.locator("#form-panel-title").inner_text() == "転入届"
        assert field(staff, "applicant_name").locator("input").input_value() == VISITOR
        assert field(staff, "phone").locator("input").input_value() == "090-1234-5678"
        # The panel leaves the resident's video uncovered.
        video = staff.locator("#remote-video").bounding_box()
        panel = staff.locator("#form-panel").bounding_box()
        assert video and panel and video["x"] + video["width"] <= panel["x"] + 1

        fill_the_form(staff, ADDRESS)
        assert_accessible(staff, axe, "staff call page, form panel open")
        staff.click("#btn-form-save")
        staff.wait_for_selector("#form-panel[data-version='2']")
        assert staff.locator("#form-missing").inner_text() == "必須項目はすべて入力されています。"
        push(staff)

        # -- the kiosk: large, read-only, page by page; then the signature ----------
        kiosk.wait_for_selector("#form-review[data-phase=review]")
        assert kiosk.locator("#form-review-name").inner_text() == "転入届"
        sheet = kiosk.locator("#form-review-sheet").inner_text()
        assert VISITOR in sheet and ADDRESS in sheet and "タカハシ　サブロウ" in sheet
        assert "令和元年5月1日（2019年5月1日）" in sheet
        assert kiosk.locator("#form-review-sheet input").count() == 0  # read-only
        # The staff member's video stays on screen beside the form.
        assert kiosk.locator("#remote-video").is_visible()
        size = kiosk.evaluate(
            "() => parseFloat(getComputedStyle(document.querySelector"
            "('#form-review-sheet dd')).fontSize)"
        )
        assert size >= 28, size
        staff.wait_for_selector("#form-pages li")
        assert staff.locator("#form-pages li[data-done=true]").count() == 0
        assert_accessible(kiosk, axe, "kiosk, form review")
        # Keyboard: the page's confirm button is reached and pressed without a pointer.
        kiosk.focus("#btn-form-confirm")
        kiosk.keyboard.press("Enter")
        kiosk.wait_for_selector("#form-review[data-page='2']")
        staff.wait_for_selector("#form-pages li[data-done=true]")
        kiosk.click("#btn-form-back")
        kiosk.wait_for_selector("#form-review[data-page='1']")
        confirm_and_sign(kiosk, check=lambda: assert_accessible(kiosk, axe, "kiosk, signing"))
        assert "署名を受け付けました" in kiosk.locator("#form-done-text").inner_text()

        # -- staff see the signature; the PDF has the name and the address ------------
        staff.wait_for_selector("#form-panel[data-state=signed]")
        assert "住民が" in staff.locator("#form-signatures").inner_text()
        href = staff.locator("#form-pdf").get_attribute("href")
        assert href
        text = pdf_text(staff, href)
        assert VISITOR in text, text[:500]
        assert ADDRESS.split(" ")[0] in text, text[:500]
    with sqlite3.connect(db_path(app)) as conn:
        state, values = conn.execute('SELECT state, "values" FROM forms').fetchone()
        signatures = conn.execute("SELECT voided_at FROM form_signatures").fetchall()
    assert state == "signed"
    assert [s[0] for s in signatures] == [None]
    stored = json.loads(values)
    # Normalised by the server as the browser showed: カタカナ, ISO dates, no hidden field.
    assert stored["applicant_kana"] == "タカハシ\u3000サブロウ"
    assert stored["moved_on"] == "2019-05-01"
    assert stored["postal_code"] == "123-4567"
    assert stored["members"] == [
        {"name": "高橋 三郎", "kana": "タカハシ\u3000サブロウ", "birth_date": "1950-01-02"}
    ]
    assert stored["mynumber_card"] is True and "agent_reason" not in stored


def test_editing_a_signed_walk_in_form_voids_the_signature_and_asks_again(
    app_in_netns: AppInNetns, chromium_in_netns: Browser
) -> None:
    app = app_in_netns
    home = kiosk_home_path(app)
    logs: list[str] = []
    with (
        reported_on_failure(app, logs),
        person(chromium_in_netns, app.base_url, logs, "kiosk", **SCREEN) as kiosk,
        person(chromium_in_netns, app.base_url, logs, "staff", **SCREEN) as staff,
    ):
        log_in(staff)
        open_counter_available(staff)
        walk_in(kiosk, home, "転入の手続き")
        answer_ring(staff)
        kiosk.wait_for_url(re.compile(rf"{re.escape(home)}/ticket/\d+/call$"))
        wait_connected(staff, kiosk)

        # A walk-in has no booking: nothing to pre-fill but what staff type.
        open_form(staff)
        assert field(staff, "applicant_name").locator("input").input_value() == ""
        fill(staff, "applicant_name", VISITOR)
        fill(staff, "phone", "0312345678")
        fill_the_form(staff, ADDRESS)
        push(staff)  # saves first
        confirm_and_sign(kiosk)
        staff.wait_for_selector("#form-panel[data-state=signed]")

        # -- an edit after the signature: warned, saved, the signature void ---------------
        fill(staff, "address", NEW_ADDRESS)
        assert "署名は無効" in staff.locator("#form-status").inner_text()
        staff.click("#btn-form-save")
        staff.wait_for_selector("#form-panel[data-state=draft]")
        assert "無効" in staff.locator("#form-signatures li[data-void=true]").inner_text()
        assert staff.locator("#form-pdf").is_hidden()

        # -- pushed again: the resident is asked again, and signs the new version -----
        push(staff)
        kiosk.wait_for_selector("#form-review[data-phase=review]")
        assert "変更されました" in kiosk.locator("#form-review-intro").inner_text()
        assert NEW_ADDRESS in kiosk.locator("#form-review-sheet").inner_text()
        confirm_and_sign(kiosk)
        staff.wait_for_selector("#form-panel[data-state=signed]")
        href = staff.locator("#form-pdf").get_attribute("href")
        assert href
        text = pdf_text(staff, href)
        assert NEW_ADDRESS in text and ADDRESS not in text, text[:500]
    with sqlite3.connect(db_path(app)) as conn:
        signatures = conn.execute(
            "SELECT voided_at IS NOT NULL FROM form_signatures ORDER BY id"
        ).fetchall()
        ticket = conn.execute("SELECT ticket_id FROM forms").fetchone()[0]
    assert [bool(s[0]) for s in signatures] == [True, False]
    assert ticket is not None
