"""Browser helpers for application forms in a call (tests/browser/test_form_call.py).

The staff member's form panel (templates/forms/_panel.html, forms/panel.js)
and the resident's review (templates/forms/_review.html, forms/review.js) are
driven the way a person uses them: typing into fields and leaving them,
pressing the buttons, drawing the signature with the mouse's pointer events.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING

from pypdf import PdfReader

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

# A 転入届 of two pages with every kind of field: the form the tests fill in.
FORM_YAML = """\
forms:
  - slug: tennyu-todoke
    service: madoguchi
    title_ja: 転入届
    title_en: Notification of moving in
    fields:
      - {name: applicant_name, type: text, label_ja: 届出人の氏名, label_en: Name, required: true, max_length: 50, prefill: name}
      - {name: applicant_kana, type: kana, label_ja: 届出人のフリガナ, label_en: Name in katakana, required: true}
      - {name: phone, type: phone, label_ja: 日中の連絡先, label_en: Daytime phone, required: true, prefill: phone}
      - name: relation
        type: choice
        label_ja: 届出人
        label_en: Who is notifying
        required: true
        options:
          - {value: self, label_ja: 本人, label_en: Self}
          - {value: agent, label_ja: 代理人, label_en: Agent}
      - name: agent_reason
        type: text
        label_ja: 代理人による届出の理由
        label_en: Why an agent notifies
        shown_if: {field: relation, equals: agent}
        required_if: {field: relation, equals: agent}
      - {name: moved_on, type: date, label_ja: 転入した日, label_en: Date moved in, required: true}
      - {name: postal_code, type: postal_code, label_ja: 郵便番号, label_en: Postal code, required: true}
      - {name: address, type: address, label_ja: 新しい住所, label_en: New address, required: true}
      - name: members
        type: group
        label_ja: 転入する人
        label_en: People moving in
        min: 1
        max: 4
        fields:
          - {name: name, type: text, label_ja: 氏名, label_en: Name, required: true}
          - {name: kana, type: kana, label_ja: フリガナ, label_en: Name in katakana}
          - {name: birth_date, type: date, label_ja: 生年月日, label_en: Date of birth, required: true}
      - {name: mynumber_card, type: checkbox, label_ja: マイナンバーカードの継続利用, label_en: Keep using the My Number Card}
    layout:
      pages:
        - title_ja: 届出人と住所
          title_en: The person notifying and the address
          sections:
            - title_ja: 届出人
              title_en: The person notifying
              fields: [applicant_name, applicant_kana, phone, relation, agent_reason]
            - title_ja: 住所
              title_en: Address
              fields: [moved_on, postal_code, address]
        - title_ja: 転入する人
          title_en: People moving in
          sections:
            - title_ja: 転入する人
              title_en: People moving in
              fields: [members, mynumber_card]
"""


def field(page: Page, path: str) -> Locator:
    return page.locator(f'#form-fields [data-path="{path}"]')


def fill(page: Page, path: str, value: str) -> None:
    """Type into a field and leave it (its check runs on leaving)."""
    box = field(page, path).locator("input, textarea").first
    box.fill(value)
    box.press("Tab")


def choose(page: Page, path: str, value: str) -> None:
    field(page, path).locator(f'input[type=radio][value="{value}"]').check()


def error_of(page: Page, path: str) -> str:
    return field(page, path).locator(":scope > .field-error").inner_text()


def open_form(staff: Page) -> None:
    """The procedure's form, opened (started and pre-filled) in the panel."""
    staff.wait_for_selector("#form-template option", state="attached")
    staff.click("#btn-form-open")
    staff.wait_for_selector("#form-panel:not([hidden]) #form-fields [data-path]")


def fill_the_form(staff: Page, address: str) -> None:
    """What staff type while they talk, with the browser's checks on the way."""
    # A kana field with kanji is refused as soon as it is left, in words.
    fill(staff, "applicant_kana", "高橋")
    assert error_of(staff, "applicant_kana") == "カタカナで入力してください。"
    assert field(staff, "applicant_kana").locator("input").get_attribute("aria-invalid") == "true"
    fill(staff, "applicant_kana", "たかはし さぶろう")  # ひらがな becomes カタカナ on the server
    assert error_of(staff, "applicant_kana") == ""
    # A conditional field appears only for an agent.
    choose(staff, "relation", "agent")
    field(staff, "agent_reason").wait_for(state="visible")
    choose(staff, "relation", "self")
    field(staff, "agent_reason").wait_for(state="hidden")
    # 和暦: a day outside its era is refused, 令和元年5月1日 is read back in both calendars.
    fill(staff, "moved_on", "平成31年5月1日")
    assert error_of(staff, "moved_on").startswith("存在しない日付です")
    fill(staff, "moved_on", "R1.5.1")
    assert error_of(staff, "moved_on") == ""
    hint = field(staff, "moved_on").locator(".field-hint").inner_text()
    assert hint == "令和元年5月1日（2019年5月1日）"
    fill(staff, "postal_code", "123456")
    assert error_of(staff, "postal_code") == "郵便番号は7桁です。"
    fill(staff, "postal_code", "〒１２３－４５６７")
    fill(staff, "address", address)
    # The household: two people added, the second removed again.
    add = field(staff, "members").locator(":scope > button")
    add.click()
    add.click()
    assert field(staff, "members").locator(".form-group-item").count() == 2
    fill(staff, "members[0].name", "高橋 三郎")
    fill(staff, "members[0].kana", "タカハシ サブロウ")
    fill(staff, "members[0].birth_date", "昭和25年1月2日")
    field(staff, "members").locator(".form-group-item").nth(1).locator(":scope > button").click()
    assert field(staff, "members").locator(".form-group-item").count() == 1
    field(staff, "mynumber_card").locator("input").check()


def push(staff: Page) -> None:
    staff.click("#btn-form-push")
    staff.wait_for_selector("#form-panel[data-state=pushed]")


def draw_signature(page: Page) -> None:
    """A name-like scribble with the mouse: Chromium sends pointer events."""
    box = page.locator("#signature-canvas").bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 100
    x0, y0 = box["x"] + box["width"] * 0.15, box["y"] + box["height"] * 0.5
    page.mouse.move(x0, y0)
    page.mouse.down()
    for step in range(1, 30):
        page.mouse.move(x0 + step * box["width"] * 0.02, y0 + (-1) ** step * box["height"] * 0.15)
    page.mouse.up()
    page.mouse.move(x0 + box["width"] * 0.1, y0 - box["height"] * 0.3)
    page.mouse.down()
    page.mouse.move(x0 + box["width"] * 0.1, y0 + box["height"] * 0.3, steps=10)
    page.mouse.up()


def confirm_and_sign(resident: Page, check: Callable[[], None] | None = None) -> None:
    """Every page confirmed, then the signature drawn and sent; `check` runs
    on the signature screen before anything is drawn."""
    resident.wait_for_selector("#form-review[data-phase=review]")
    pages = 0
    while resident.get_attribute("#form-review", "data-phase") == "review":
        shown = resident.get_attribute("#form-review", "data-page")
        resident.click("#btn-form-confirm")
        resident.wait_for_function(
            "(shown) => { const r = document.getElementById('form-review');"
            " return r.dataset.phase !== 'review' || r.dataset.page !== shown; }",
            arg=shown,
        )
        pages += 1
        assert pages <= 10
    resident.wait_for_selector("#form-review[data-phase=sign]")
    assert resident.locator("#btn-sign-submit").is_disabled()  # nothing drawn yet
    if check is not None:
        check()
    draw_signature(resident)
    resident.click("#btn-sign-submit")
    resident.wait_for_selector("#form-review[data-phase=signed]")


def pdf_text(page: Page, url: str) -> str:
    """The text of a PDF the page's session may download."""
    response = page.request.get(url)
    assert response.ok, (response.status, response.text()[:300])
    assert response.headers["content-type"].startswith("application/pdf")
    reader = PdfReader(io.BytesIO(response.body()))
    return "\n".join(p.extract_text() or "" for p in reader.pages)
