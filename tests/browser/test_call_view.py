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
from typing import TYPE_CHECKING

import pytest
from axe_harness import assert_accessible, load_axe
from browser_call_steps import (
    KIOSK_VIEWPORT,
    answer_ring,
    book_today,
    choose_available,
    db_path,
    kiosk_home_path,
    log_in,
    person,
    reported_on_failure,
    walk_in,
)
from browser_harness import (
    AppInNetns,
    assert_media_flows,
    build_city_yaml,
    interpreter_entry,
    interpreter_language,
    wait_connected,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.media, pytest.mark.slow]

# Open all day every day; a sign-language interpreter at work all the time.
CALL_VIEW_CITY_YAML = build_city_yaml(
    interpreter_languages=[interpreter_language("jsl", "手話", "Japanese Sign Language", "手話")],
    interpreters=[interpreter_entry("sato", "佐藤 手話通訳", ["jsl"])],
)

# The state of the main remote video (the visitor's, on the staff page).
REMOTE_AUDIO = """() => {
  const v = document.getElementById('remote-video');
  return {paused: v.paused, muted: v.muted, tracks: v.srcObject ?
    v.srcObject.getAudioTracks().length : 0, sound: document.documentElement.dataset.sound};
}"""


@pytest.fixture
def city_yaml() -> str:
    return CALL_VIEW_CITY_YAML


def staff_available(staff: Page) -> None:
    """Sign in, open the remote counter, choose "available": clicks staff make anyway."""
    log_in(staff)
    staff.click('a[href="/staff/counter"]')
    staff.wait_for_url(re.compile(r"/staff/counter$"))
    choose_available(staff)


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
    home = kiosk_home_path(app)
    axe = load_axe()
    logs: list[str] = []
    with (
        reported_on_failure(app, logs),
        person(chromium_in_netns, app.base_url, logs, "kiosk", bypass_csp=True) as kiosk,
        person(chromium_in_netns, app.base_url, logs, "staff", bypass_csp=True) as staff,
    ):
        staff_available(staff)
        walk_in(kiosk, home, "窓口での相談")
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
    code = book_today(app, "山田 花子", "hanako@example.jp")
    axe = load_axe()
    logs: list[str] = []
    with (
        reported_on_failure(app, logs),
        person(chromium_in_netns, app.base_url, logs, "staff", bypass_csp=True) as staff,
    ):
        log_in(staff)
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


def interpreter_link(app: AppInNetns) -> str:
    """The join link in the mail that called the interpreter (the outbox)."""
    with sqlite3.connect(db_path(app)) as conn:
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
    home = kiosk_home_path(app)
    axe = load_axe()
    logs: list[str] = []
    with (
        reported_on_failure(app, logs),
        person(
            chromium_in_netns,
            app.base_url,
            logs,
            "kiosk",
            bypass_csp=True,
            viewport=KIOSK_VIEWPORT,
        ) as kiosk,
        person(chromium_in_netns, app.base_url, logs, "staff", bypass_csp=True) as staff,
        person(
            chromium_in_netns, app.base_url, logs, "interpreter", bypass_csp=True
        ) as interpreter,
    ):
        staff_available(staff)
        walk_in(kiosk, home, "窓口での相談", language="jsl")
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
