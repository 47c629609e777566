"""The steps the real-Chromium call tests (tests/browser) take again and again.

A person's browser context, the staff member's sign-in and "available", the
visitor at the kiosk (walk-in or booking code), the ring answered, a booking
made through the API on the app's today. Only for tests running in the
browser harness (tests/browser/conftest.py): ``browser_harness`` is importable
there.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
from browser_harness import SECRET, STAFF_LOGIN, STAFF_PASSWORD, AppInNetns
from served_clock import TOKYO

from app.core.tokens import Purpose, Tokens

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

TIMEOUT_MS = 45_000
KIOSK_VIEWPORT = {"width": 1280, "height": 800}


@contextmanager
def person(
    browser: Browser, base_url: str, logs: list[str], who: str, **options: Any
) -> Iterator[Page]:
    """One person's page (Japanese, Tokyo time); its console and errors go to ``logs``."""
    context = browser.new_context(
        base_url=base_url, locale="ja-JP", timezone_id="Asia/Tokyo", **options
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.on("console", lambda msg: logs.append(f"[{who} console.{msg.type}] {msg.text}"))
    page.on("pageerror", lambda exc: logs.append(f"[{who} pageerror] {exc}"))
    try:
        yield page
    finally:
        context.close()


@contextmanager
def kiosk_sized_page(browser: Browser, base_url: str, locale: str = "ja-JP") -> Iterator[Page]:
    """A page at the kiosk's size (1280×800), for axe-core too (``bypass_csp``)."""
    context = browser.new_context(
        base_url=base_url, locale=locale, viewport=KIOSK_VIEWPORT, bypass_csp=True
    )
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@contextmanager
def reported_on_failure(app: AppInNetns, logs: list[str]) -> Iterator[None]:
    """On a failure, print the pages' last log lines and the server's."""
    try:
        yield
    except BaseException:
        print("\n".join(logs[-80:]))
        print("--- madoguchi serve (tail) ---\n" + app.log_tail(80))
        raise


def db_path(app: AppInNetns) -> str:
    return app.env["MADOGUCHI_DATABASE_URL"].removeprefix("sqlite:///")


def first_id(app: AppInNetns, table: str) -> int:
    """The id of the (first) row of ``kiosks``, ``services``, …"""
    with sqlite3.connect(db_path(app)) as conn:
        (row_id,) = conn.execute(f"SELECT id FROM {table}").fetchone()
    return int(row_id)


def kiosk_home_path(app: AppInNetns, kiosk_id: int | None = None) -> str:
    """The start screen of a kiosk (the first one by default), with a day's token."""
    if kiosk_id is None:
        kiosk_id = first_id(app, "kiosks")
    token = Tokens(SECRET).issue(
        Purpose.KIOSK, {"k": kiosk_id}, expires=app.clock.now() + timedelta(days=1)
    )
    return f"/kiosk/{token}"


def log_in(staff: Page, *, lang: str | None = None) -> None:
    """The staff member (Yamada) signs in and lands on the staff home."""
    staff.goto("/staff/login" + (f"?lang={lang}" if lang else ""))
    staff.fill("#login", STAFF_LOGIN)
    staff.fill("#password", STAFF_PASSWORD)
    staff.click("form.narrow-form button[type=submit]")
    staff.wait_for_url(re.compile(r"/staff$"))


def choose_available(staff: Page) -> None:
    """On the remote counter: "available"."""
    staff.click('button[data-presence-choice="available"]')
    staff.wait_for_selector('#presence-now[data-presence="available"]')


def open_counter_available(staff: Page, counter: str = "/staff/counter") -> None:
    staff.goto(counter)
    choose_available(staff)


def walk_in(kiosk: Page, home: str, service: str, *, language: str | None = None) -> None:
    """From the start screen: touch, "no booking", [an interpreter language], the service."""
    kiosk.goto(home + "?lang=ja")
    kiosk.click("a.kiosk-touch")
    kiosk.click('a[data-kiosk="walk-in"]')
    if language:
        kiosk.locator(f'a.kiosk-language[data-language="{language}"]').click()
        kiosk.wait_for_selector(
            f'a.kiosk-language[data-language="{language}"][aria-pressed="true"]'
        )
    kiosk.locator("button.kiosk-service").filter(has_text=service).click()
    kiosk.wait_for_url(re.compile(rf"{re.escape(home)}/ticket/\d+"))


def ticket_for_the_first_service(kiosk: Page, home: str, lang: str = "ja") -> None:
    """Straight to the walk-in screen, the first service: a ticket."""
    kiosk.goto(f"{home}/walk-in?lang={lang}")
    kiosk.locator("button.kiosk-service").first.click()
    kiosk.wait_for_url(re.compile(r"/ticket/\d+$"))


def open_keypad(kiosk: Page, home: str) -> None:
    """From the start screen: touch, "I have a booking"."""
    kiosk.goto(home + "?lang=ja")
    kiosk.click("a.kiosk-touch")
    kiosk.click('a[data-kiosk="booked"]')


def type_code(kiosk: Page, code: str) -> None:
    """The booking code on the keypad (``MDG-`` is there already)."""
    for key in code.removeprefix("MDG-"):
        kiosk.click(f'#kiosk-keypad button[data-key="{key}"]')


def ringing_offer(staff: Page) -> Locator:
    offer = staff.locator("#offers li.offer.ringing")
    offer.wait_for()
    return offer


def accept(staff: Page, offer: Locator) -> None:
    offer.locator("button.offer-accept").click()
    staff.wait_for_url(re.compile(r"/staff/counter/call/\d+$"))


def answer_ring(staff: Page) -> None:
    accept(staff, ringing_offer(staff))


def book_today(
    app: AppInNetns,
    name: str,
    email: str,
    *,
    kiosk_id: int | None = None,
    phone: str | None = None,
) -> str:
    """The first slot of the app's today, booked through the API: its code.

    Online, or at the kiosk ``kiosk_id``.
    """
    service_id = first_id(app, "services")
    # The app's today: its clock (conftest.app_clock) is a weekday 10:00 in Tokyo.
    today = app.clock.now().astimezone(TOKYO).date().isoformat()
    params: dict[str, str | int] = {"from": today, "to": today}
    booking: dict[str, str | int] = {"service_id": service_id, "name": name, "email": email}
    if kiosk_id is None:
        booking["channel"] = "online"
    else:
        params |= {"channel": "kiosk", "kiosk_id": kiosk_id}
        booking |= {"channel": "kiosk", "kiosk_id": kiosk_id}
    if phone is not None:
        booking["phone"] = phone
    with httpx.Client(base_url=app.base_url, trust_env=False, timeout=20) as api:
        slots = api.get(f"/api/v1/services/{service_id}/availability", params=params).json()[
            "slots"
        ]
        assert slots, f"no bookable time today on the app's clock ({params})"
        r = api.post("/api/v1/bookings", json={**booking, "start": slots[0]["start"]})
        assert r.status_code == 201, r.text
    return str(r.json()["code"])
