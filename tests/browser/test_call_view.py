"""What staff hear and what a deaf visitor sees, in real headless Chromium.

Runs in the shared harness (``conftest.py``): ``madoguchi serve`` and Chromium
with a fake camera and microphone inside a loopback-only namespace, with
Chromium's **default autoplay policy** (a page may play sound only after the
person interacted with it; no ``--autoplay-policy`` flag).

* Staff hear the visitor at once: the staff member signs in, becomes
  available and answers the ring; the call page that answer opens plays the
  visitor's audio unmuted without another press. Where the browser refuses,
  the picture plays muted and a large notice with one button says so; the
  button turns the sound on.
* Sign language: a walk-in at the kiosk (1280×800) asks for a sign-language
  interpreter; staff answer, the interpreter is called and joins from the
  link in their mail. The kiosk shows the interpreter and the staff member
  side by side, both large, and the visitor swaps which is larger with a
  labelled button, from the keyboard.

Every state checked here is also checked with axe-core.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from axe_harness import assert_accessible, load_axe
from browser_harness import (
    SECRET,
    STAFF_LOGIN,
    STAFF_PASSWORD,
    AppInNetns,
    assert_media_flows,
    wait_connected,
)
from served_clock import TOKYO

from app.core.tokens import Purpose, Tokens

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = [pytest.mark.browser, pytest.mark.media, pytest.mark.slow]

TIMEOUT_MS = 45_000
KIOSK_VIEWPORT = {"width": 1280, "height": 800}

# Open all day every day; a sign-language interpreter at work all the time.
CALL_VIEW_CITY_YAML = """\
demo: true
city:
  name_ja: てすと市
  name_en: Test City
  close_public_holidays: false
  close_year_end: false
departments:
  - slug: soudan
    name_ja: 総合相談課
    name_en: General Consultation Division
    hours:
      mon: &allday ["00:00-23:59"]
      tue: *allday
      wed: *allday
      thu: *allday
      fri: *allday
      sat: *allday
      sun: *allday
services:
  - slug: madoguchi
    department: soudan
    name_ja: 窓口での相談
    name_en: Counter consultation
    duration: 20
    slot_step: 5
    channels: [kiosk, online]
    min_notice: 0
    horizon_days: 7
    change_cutoff: 0
staff:
  - login: yamada
    display_name: 山田 太郎
    email: yamada@city.test.example
    departments: [soudan]
    skills: [madoguchi]
    password: demo
branches:
  - slug: kita
    name_ja: 北支所
    name_en: North Branch Office
    address: てすと市北町1丁目2番3号
    kiosks:
      - slug: kita-1
        name: 北支所 リモート窓口
interpreter_languages:
  - code: jsl
    name_ja: 手話
    name_en: Japanese Sign Language
    name_native: 手話
interpreters:
  - slug: sato
    name: 佐藤 手話通訳
    email: sato@interp.test.example
    languages: [jsl]
    hours:
      mon: *allday
      tue: *allday
      wed: *allday
      thu: *allday
      fri: *allday
      sat: *allday
      sun: *allday
"""

# The state of the main remote video (the visitor's, on the staff page).
REMOTE_AUDIO = """() => {
  const v = document.getElementById('remote-video');
  return {paused: v.paused, muted: v.muted, tracks: v.srcObject ?
    v.srcObject.getAudioTracks().length : 0, sound: document.documentElement.dataset.sound};
}"""


@pytest.fixture
def city_yaml() -> str:
    return CALL_VIEW_CITY_YAML


@contextmanager
def person(
    browser: Browser, base_url: str, logs: list[str], who: str, **options: Any
) -> Iterator[Page]:
    context: BrowserContext = browser.new_context(
        base_url=base_url, locale="ja-JP", timezone_id="Asia/Tokyo", bypass_csp=True, **options
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.on("console", lambda msg: logs.append(f"[{who} console.{msg.type}] {msg.text}"))
    page.on("pageerror", lambda exc: logs.append(f"[{who} pageerror] {exc}"))
    try:
        yield page
    finally:
        context.close()


def kiosk_home(app: AppInNetns) -> str:
    db = app.env["MADOGUCHI_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        (kiosk_id,) = conn.execute("SELECT id FROM kiosks").fetchone()
    token = Tokens(SECRET).issue(
        Purpose.KIOSK, {"k": kiosk_id}, expires=app.clock.now() + timedelta(days=1)
    )
    return f"/kiosk/{token}"


def staff_available(staff: Page) -> None:
    """Sign in, open the remote counter, choose "available": clicks staff make anyway."""
    staff.goto("/staff/login")
    staff.fill("#login", STAFF_LOGIN)
    staff.fill("#password", STAFF_PASSWORD)
    staff.click("form.narrow-form button[type=submit]")
    staff.wait_for_url(re.compile(r"/staff$"))
    staff.click('a[href="/staff/counter"]')
    staff.wait_for_url(re.compile(r"/staff/counter$"))
    staff.click('button[data-presence-choice="available"]')
    staff.wait_for_selector('#presence-now[data-presence="available"]')


def walk_in(kiosk: Page, home: str, *, language: str | None = None) -> None:
    kiosk.goto(home + "?lang=ja")
    kiosk.click("a.kiosk-touch")
    kiosk.click('a[data-kiosk="walk-in"]')
    if language:
        kiosk.locator(f'a.kiosk-language[data-language="{language}"]').click()
        kiosk.wait_for_selector(
            f'a.kiosk-language[data-language="{language}"][aria-pressed="true"]'
        )
    kiosk.locator("button.kiosk-service").filter(has_text="窓口での相談").click()
    kiosk.wait_for_url(re.compile(rf"{re.escape(home)}/ticket/\d+"))


def answer_ring(staff: Page) -> None:
    offer = staff.locator("#offers li.offer.ringing")
    offer.wait_for()
    offer.locator("button.offer-accept").click()
    staff.wait_for_url(re.compile(r"/staff/counter/call/\d+$"))


def wait_playing(page: Page, selector: str) -> None:
    """The video element has a picture and is playing (not paused)."""
    page.wait_for_function(
        "(sel) => { const v = document.querySelector(sel);"
        " return v && !v.paused && v.videoWidth > 0 && v.readyState >= 2; }",
        arg=selector,
    )


def test_staff_hear_the_visitor_without_another_press(
    app_in_netns: AppInNetns, chromium_in_netns: Browser
) -> None:
    app = app_in_netns
    home = kiosk_home(app)
    axe = load_axe()
    logs: list[str] = []
    try:
        with (
            person(chromium_in_netns, app.base_url, logs, "kiosk") as kiosk,
            person(chromium_in_netns, app.base_url, logs, "staff") as staff,
        ):
            staff_available(staff)
            walk_in(kiosk, home)
            answer_ring(staff)
            kiosk.wait_for_url(re.compile(rf"{re.escape(home)}/ticket/\d+/call$"))
            wait_connected(staff, kiosk)
            assert_media_flows(staff, "staff")

            # -- the answer's click was enough: the visitor's voice plays unmuted -------------
            wait_playing(staff, "#remote-video")
            state = staff.evaluate(REMOTE_AUDIO)
            assert state == {"paused": False, "muted": False, "tracks": 1, "sound": "on"}, state
            assert staff.locator("#sound-blocked").is_hidden()
            assert staff.locator("#btn-play").is_hidden()
            # The kiosk too: its visitor touched the screen to take the ticket.
            wait_playing(kiosk, "#remote-video")
            assert kiosk.evaluate(REMOTE_AUDIO)["muted"] is False
            assert_accessible(staff, axe, "staff walk-in call, in call")
            assert_accessible(kiosk, axe, "kiosk walk-in call, in call")

    except BaseException:
        print("\n".join(logs[-80:]))
        print("--- madoguchi serve (tail) ---\n" + app.log_tail(80))
        raise


def book_online(app: AppInNetns) -> str:
    """Today's first online slot, booked through the API: its code."""
    db = app.env["MADOGUCHI_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        (service_id,) = conn.execute("SELECT id FROM services").fetchone()
    today = app.clock.now().astimezone(TOKYO).date().isoformat()
    with httpx.Client(base_url=app.base_url, trust_env=False, timeout=20) as api:
        slots = api.get(
            f"/api/v1/services/{service_id}/availability",
            params={"from": today, "to": today},
        ).json()["slots"]
        assert slots, "no bookable time today on the app's clock"
        r = api.post(
            "/api/v1/bookings",
            json={
                "service_id": service_id,
                "start": slots[0]["start"],
                "channel": "online",
                "name": "山田 花子",
                "email": "hanako@example.jp",
            },
        )
        assert r.status_code == 201, r.text
        code: str = r.json()["code"]
    return code


# A picture and a tone made in the page (canvas and Web Audio), played through
# the call page's own module as soon as the page is there: Chromium refuses its
# sound, as the page has had no click and has not started the camera. Run as
# an init script, not through page.evaluate: Playwright evaluates with a user
# gesture, which would count as a click. <html data-active-at-play> records
# whether the page had any activation when it asked.
PLAY_UNCLICKED = """
if (location.pathname.startsWith('/staff/call/')) {
  document.addEventListener('DOMContentLoaded', async () => {
    const { playWithSound } = await import('/static/js/call/audio.js');
    const audio = new AudioContext();
    const tone = audio.createOscillator();
    const out = audio.createMediaStreamDestination();
    tone.connect(out);
    tone.start();
    const canvas = document.createElement('canvas');
    canvas.width = 320;
    canvas.height = 240;
    const g = canvas.getContext('2d');
    setInterval(() => { g.fillStyle = `hsl(${Date.now() % 360} 60% 50%)`;
      g.fillRect(0, 0, 320, 240); }, 50);
    const stream = canvas.captureStream(15);
    stream.addTrack(out.stream.getAudioTracks()[0]);
    document.getElementById('step-call').hidden = false;
    const video = document.getElementById('remote-video');
    video.srcObject = stream;
    document.documentElement.dataset.activeAtPlay = String(navigator.userActivation.hasBeenActive);
    await playWithSound(video);
  });
}
"""


def test_refused_sound_is_said_large_with_one_button(
    app_in_netns: AppInNetns, chromium_in_netns: Browser
) -> None:
    """Where the browser refuses the sound, a large notice and one button.

    Chromium lets a page that uses the camera or microphone play sound (so
    the call pages above are never refused once the camera is on), and so do
    Safari and Firefox with a remembered camera permission; other browsers
    and settings still refuse. The refusal here is Chromium's own: the staff
    call page is opened from the address bar (no click on it) and plays a
    stream before the camera starts.
    """
    app = app_in_netns
    code = book_online(app)
    axe = load_axe()
    logs: list[str] = []
    try:
        with person(chromium_in_netns, app.base_url, logs, "staff") as staff:
            staff.goto("/staff/login")
            staff.fill("#login", STAFF_LOGIN)
            staff.fill("#password", STAFF_PASSWORD)
            staff.click("form.narrow-form button[type=submit]")
            staff.wait_for_url(re.compile(r"/staff$"))
            staff.context.add_init_script(PLAY_UNCLICKED)
            staff.goto(f"/staff/call/{code}")  # typed in: no activation on this page
            staff.wait_for_selector("#sound-blocked:not([hidden])")
            assert staff.locator("html").get_attribute("data-active-at-play") == "false"
            notice = staff.locator("#sound-blocked")
            assert "音声が止まっています" in notice.inner_text()
            size = staff.evaluate(
                "() => parseFloat(getComputedStyle("
                "document.querySelector('.sound-blocked-text')).fontSize)"
            )
            assert size >= 24, size  # large text, not a hint
            assert staff.locator("#btn-play").inner_text() == "音声をオンにする"
            # Meanwhile the picture plays, muted.
            wait_playing(staff, "#remote-video")
            state = staff.evaluate(REMOTE_AUDIO)
            assert state == {"paused": False, "muted": True, "tracks": 1, "sound": "blocked"}
            assert_accessible(staff, axe, "staff call page, sound refused")
            # The one button: sound on, the notice gone.
            staff.click("#btn-play")
            staff.wait_for_selector("#sound-blocked[hidden]", state="attached")
            state = staff.evaluate(REMOTE_AUDIO)
            assert state == {"paused": False, "muted": False, "tracks": 1, "sound": "on"}, state
    except BaseException:
        print("\n".join(logs[-80:]))
        raise


def interpreter_link(app: AppInNetns) -> str:
    """The join link in the mail that called the interpreter (the outbox)."""
    db = app.env["MADOGUCHI_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT body FROM outbox WHERE to_addr = 'sato@interp.test.example'"
        ).fetchall()
    assert len(rows) == 1, rows
    match = re.search(r"/join/[\w.\-]+", rows[0][0])
    assert match, rows[0][0]
    return match.group(0)


def box_of(page: Page, selector: str) -> dict[str, float]:
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    return box


def test_sign_language_interpreter_and_staff_side_by_side_at_the_kiosk(
    app_in_netns: AppInNetns, chromium_in_netns: Browser
) -> None:
    app = app_in_netns
    home = kiosk_home(app)
    axe = load_axe()
    logs: list[str] = []
    try:
        with (
            person(
                chromium_in_netns, app.base_url, logs, "kiosk", viewport=KIOSK_VIEWPORT
            ) as kiosk,
            person(chromium_in_netns, app.base_url, logs, "staff") as staff,
            person(chromium_in_netns, app.base_url, logs, "interpreter") as interpreter,
        ):
            staff_available(staff)
            walk_in(kiosk, home, language="jsl")
            answer_ring(staff)
            kiosk.wait_for_url(re.compile(rf"{re.escape(home)}/ticket/\d+/call$"))
            wait_connected(staff, kiosk)
            # Before the interpreter: one large video, no swap button.
            assert kiosk.locator("#call-stage").get_attribute("data-layout") == "single"
            assert kiosk.locator("#btn-swap").is_hidden()

            # -- the interpreter joins from the mail's link -----------------------------------
            interpreter.goto(interpreter_link(app))
            interpreter.click("#btn-devices")
            interpreter.wait_for_selector("#btn-enter:not([hidden])", timeout=60_000)
            interpreter.click("#btn-enter")
            interpreter.wait_for_function("() => window.madoguchiCall?.remoteVideos === 2")

            # -- the kiosk: both large, side by side, the signer larger first ---------------
            kiosk.wait_for_selector("#call-stage[data-layout=duo]")
            signer, speaker = '.duo-large[data-sign="true"]', '.duo-small[data-role="staff"]'
            wait_playing(kiosk, f"{signer} video")
            wait_playing(kiosk, f"{speaker} video")
            large, small = box_of(kiosk, f"{signer} video"), box_of(kiosk, f"{speaker} video")
            width = KIOSK_VIEWPORT["width"]
            # Side by side (one row), both large (not a thumbnail), the signer larger.
            assert small["x"] >= large["x"] + large["width"] - 1, (large, small)
            assert abs(small["y"] - large["y"]) < 20, (large, small)
            assert small["width"] >= 0.3 * width, small
            assert large["width"] > small["width"], (large, small)
            # Both whole in the first view at 1280×800, with the swap button.
            for box in (large, small, box_of(kiosk, "#btn-swap")):
                assert box["y"] >= 0 and box["y"] + box["height"] <= KIOSK_VIEWPORT["height"], box
            assert "佐藤 手話通訳" in kiosk.locator(signer).inner_text()
            assert kiosk.locator("#remote-name").inner_text() == "山田 太郎"
            swap = kiosk.locator("#btn-swap")
            assert swap.inner_text().strip().endswith("職員を大きく表示する")
            assert kiosk.locator("#layout-status").inner_text() == "大きく表示：手話通訳者"
            assert swap.get_attribute("aria-controls") == "call-stage"
            assert_accessible(kiosk, axe, "kiosk call, sign language side by side")

            # -- the visitor swaps, from the keyboard -----------------------------------------
            swap.focus()
            kiosk.keyboard.press("Enter")
            kiosk.wait_for_selector('.duo-large[data-role="staff"]')
            large = box_of(kiosk, '.duo-large[data-role="staff"] video')
            small = box_of(kiosk, '.duo-small[data-sign="true"] video')
            assert large["width"] > small["width"] >= 0.3 * width, (large, small)
            assert small["x"] >= large["x"] + large["width"] - 1, (large, small)
            assert kiosk.locator("#layout-status").inner_text() == "大きく表示：職員"
            assert swap.inner_text().strip().endswith("手話通訳者を大きく表示する")
            kiosk.keyboard.press("Space")
            kiosk.wait_for_selector('.duo-large[data-sign="true"]')

            # -- the interpreter leaves: back to one large video ----------------------------------
            interpreter.click("#btn-hangup")
            kiosk.wait_for_selector("#call-stage[data-layout=single]")
            assert kiosk.locator("#btn-swap").is_hidden()
            assert kiosk.locator("#remote-video").get_attribute("data-peer")
    except BaseException:
        print("\n".join(logs[-80:]))
        print("--- madoguchi serve (tail) ---\n" + app.log_tail(80))
        raise
