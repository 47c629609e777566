"""The kiosk's own screens in real Chromium at the kiosk's size (1280×800).

The walk-in screen shows the services in its first view, the interpreter
languages after them, compact; the keypad passes axe; cancelling a ticket
asks once on the page and then says it is done. The app runs from the shared
harness (``conftest.py``); every page visited is checked with axe-core.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from axe_harness import assert_accessible, load_axe
from browser_call_steps import (
    KIOSK_VIEWPORT,
    kiosk_home_path,
    kiosk_sized_page,
    ticket_for_the_first_service,
)
from browser_harness import (
    AppInNetns,
    build_city_yaml,
    hours,
    interpreter_entry,
    interpreter_language,
    service,
    staff_member,
)
from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Open all day, two services at the kiosk, and as many interpreter languages
# as the demo city (they once filled the whole first view).
KIOSK_SCREENS_CITY_YAML = build_city_yaml(
    services=[
        service(),
        service(
            "juminhyo",
            "住民票の写し",
            "Copy of the residence record",
            duration=10,
            channels=["kiosk"],
        ),
    ],
    staff=[staff_member(skills=["madoguchi", "juminhyo"])],
    interpreter_languages=[
        interpreter_language("jsl", "手話", "Japanese Sign Language", "手話"),
        interpreter_language("pt", "ポルトガル語", "Portuguese", "Português"),
        interpreter_language("zh", "中国語", "Chinese", "中文"),
        interpreter_language("en", "英語", "English", "English"),
        interpreter_language("vi", "ベトナム語", "Vietnamese", "Tiếng Việt"),
    ],
    interpreters=[interpreter_entry("silva", "Ana Silva", ["pt", "en"], hours=hours(days=["mon"]))],
)


@pytest.fixture
def city_yaml() -> str:
    return KIOSK_SCREENS_CITY_YAML


@pytest.fixture
def app_env(app_env: dict[str, str]) -> dict[str, str]:
    # Back to the start screen soon after a cancelled ticket, so the test sees it.
    return {**app_env, "MADOGUCHI_KIOSK_RETURN_SECONDS": "3"}


@pytest.fixture
def kiosk_home(app_in_netns: AppInNetns) -> str:
    return kiosk_home_path(app_in_netns)


@pytest.fixture
def screen(app_in_netns: AppInNetns, chromium_in_netns: Browser) -> Iterator[Page]:
    with kiosk_sized_page(chromium_in_netns, app_in_netns.base_url) as page:
        yield page


def in_first_view(page: Page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= KIOSK_VIEWPORT["width"]
        and box["y"] + box["height"] <= KIOSK_VIEWPORT["height"]
    )


def test_walk_in_screen_shows_the_services_first(screen: Page, kiosk_home: str) -> None:
    axe = load_axe()
    for lang, query in (("ja", ""), ("en", ""), ("ja", "&interpreter=pt")):
        screen.goto(f"{kiosk_home}/walk-in?lang={lang}{query}")
        assert screen.evaluate("() => window.scrollY") == 0
        assert screen.locator("button.kiosk-service").count() == 2
        assert in_first_view(screen, "button.kiosk-service"), (
            lang,
            query,
            screen.locator("button.kiosk-service").first.bounding_box(),
        )
        # The language choice is there, below the services and smaller.
        service = screen.locator("button.kiosk-service").first.bounding_box()
        language = screen.locator("a.kiosk-language").first.bounding_box()
        assert service is not None and language is not None
        assert language["y"] > service["y"]
        assert language["height"] < service["height"]
        assert language["height"] >= 64  # still large enough to touch
        assert screen.locator("a.kiosk-language").count() == 5
        assert_accessible(screen, axe, f"walk-in {lang}{query}")
    # Choosing a language keeps the services in view, and says which was chosen.
    assert "Português" in screen.locator("#queue-title + .kiosk-lead + .kiosk-status").inner_text()


def test_cancelling_a_ticket_asks_once_then_says_it_is_cancelled(
    screen: Page, kiosk_home: str
) -> None:
    axe = load_axe()
    dialogs: list[str] = []
    screen.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    ticket_for_the_first_service(screen, kiosk_home)
    ticket_url = screen.url
    number = screen.locator(".kiosk-ticket-number").inner_text().split()[-1]
    assert not screen.is_visible("#leave-confirm")
    assert_accessible(screen, axe, "ticket")

    # 「受付を取り消す」: asked on the page, in large type; "no" keeps the ticket.
    screen.get_by_text("受付を取り消す", exact=True).click()
    screen.wait_for_selector("#leave-confirm")
    question = screen.locator("#leave-confirm h2")
    assert number in question.inner_text() and "取り消しますか" in question.inner_text()
    size = screen.evaluate(
        "() => parseFloat(getComputedStyle(document.querySelector('#leave-confirm h2')).fontSize)"
    )
    assert size >= 40, size
    assert_accessible(screen, axe, "ticket: cancel?")
    screen.click("#ticket-leave-no")
    screen.wait_for_url(ticket_url)
    assert screen.locator(".kiosk-ticket-number").inner_text().split()[-1] == number

    screen.get_by_text("受付を取り消す", exact=True).click()
    screen.click("#ticket-leave-yes")
    screen.wait_for_url(re.compile(r"/ticket/\d+/left"))
    assert "受付を取り消しました" in screen.locator("main").inner_text()
    assert number in screen.locator("main").inner_text()
    assert_accessible(screen, axe, "ticket cancelled")
    # Then back to the start screen by itself.
    screen.wait_for_url(re.compile(re.escape(kiosk_home) + r"\?lang=ja$"), timeout=15_000)
    assert dialogs == []  # never window.confirm


# A rule of WCAG 2.1 A that axe marks experimental, so the shared tag list leaves it out.
NAME_MISMATCH = """async () => {
  const result = await axe.run(document, {
    runOnly: { type: "rule", values: ["label-content-name-mismatch"] },
    rules: { "label-content-name-mismatch": { enabled: true } },
  });
  return result.violations.flatMap((v) => v.nodes.map((n) => n.html));
}"""


def test_the_keypad_buttons_are_named_as_they_read(screen: Page, kiosk_home: str) -> None:
    axe = load_axe()
    screen.goto(f"{kiosk_home}/code?lang=ja")
    screen.wait_for_selector("#kiosk-keypad:not([hidden])")
    assert_accessible(screen, axe, "kiosk code entry")
    assert screen.evaluate(NAME_MISMATCH) == []
    screen.click('#kiosk-keypad button[data-key="A"]')
    screen.click('#kiosk-keypad button[data-key="delete"]')
    assert screen.input_value("#code") == "MDG-"
