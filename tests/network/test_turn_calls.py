"""Calls between the resident network and the staff network go through coturn.

Resident and staff have no direct path (the DMZ firewall drops forwarding),
so a call connects only through the TURN server in the DMZ, with the
per-call credentials the app's rtc-config endpoint hands out. Three office
networks, each set as the client networks' egress policy:

* ``udp``: nothing blocked; the relay is reached over UDP (3478);
* ``tcp``: outbound UDP blocked; TURN over TCP (3478);
* ``tls``: only TCP 443 leaves; TURNS over TLS on 443 (the DMZ firewall
  forwards it to coturn's 5349), with the test CA the browsers trust.

For Chromium ↔ Chromium and aiortc ↔ Chromium, the selected candidate pair
must be relay on both ends, over the expected transport, and media must keep
flowing both ways (getStats counters rising in each direction).
"""

from __future__ import annotations

import json
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from browsers import browser_in
from call_harness import child_env, join_token
from city_harness import APP_SECRET, INTERNAL_URL, PUBLIC_URL, City
from topology import STAFF_ADDR, TURN_ADDR

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

pytestmark = [pytest.mark.browser, pytest.mark.media, pytest.mark.slow]

PAGE = Path(__file__).with_name("turn_call_page.html").read_text(encoding="utf-8")
PEER = Path(__file__).with_name("aiortc_peer.py")
CASES = ["udp", "tcp", "tls"]
TIMEOUT_MS = 40_000


def open_call_page(browser: Browser, base_url: str, logs: list[str], who: str) -> Page:
    context = browser.new_context(base_url=base_url)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.on("console", lambda msg: logs.append(f"[{who} {msg.type}] {msg.text}"))
    page.on("pageerror", lambda exc: logs.append(f"[{who} pageerror] {exc}"))
    page.route(
        f"{base_url}/turn-test",
        lambda route: route.fulfill(body=PAGE, content_type="text/html; charset=utf-8"),
    )
    page.goto("/turn-test")
    page.wait_for_function("window.ready === true")
    return page


def join(page: Page, room: str, role: str, pid: str) -> None:
    token = join_token(room, role, pid, secret=APP_SECRET)
    page.evaluate("([room, role, token]) => joinCall(room, role, token)", [room, role, token])


def stats_when_media(page: Page, who: str) -> dict[str, Any]:
    """pathStats() once connected with video decoded and audio received."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:
        stats: dict[str, Any] | None = page.evaluate("window.pathStats()")  # a promise
        if (
            stats
            and stats["state"] == "connected"
            and stats["pair"]
            and stats["framesDecoded"] > 0
            and stats["audioPacketsReceived"] > 0
        ):
            return stats
        assert time.monotonic() < deadline, (who, "no media through the relay in time", stats)
        page.wait_for_timeout(250)


def assert_call_screen_says_relay(page: Page, case: str, who: str) -> None:
    """The call screen's line about the path (ui.js, path.js), as the person sees it."""
    expected = f"Connected through the relay server ({case.upper()})."
    page.wait_for_function(
        "text => document.getElementById('call-path').textContent === text", arg=expected
    )
    assert page.locator("#call-path").get_attribute("data-path") == "relay", who


def assert_flowing(page: Page, before: dict[str, Any], who: str) -> dict[str, Any]:
    """Every counter, in and out, keeps rising, and the path is still relayed."""
    page.wait_for_timeout(2000)
    after: dict[str, Any] = page.evaluate("window.pathStats()")
    counters = ("framesDecoded", "audioPacketsReceived", "framesEncoded", "audioPacketsSent")
    for key in (*counters, "bytesSent", "bytesReceived"):
        assert after[key] > before[key], (who, key, before, after)
    assert after["pair"]["local"] == "relay", (who, after)
    return after


def local_sdp(page: Page) -> str:
    sdp: str = page.evaluate("window.madoguchiCall.pc.localDescription.sdp")
    return sdp


def candidate_types(page: Page) -> set[str]:
    return set(re.findall(r"^a=candidate:.* typ (\w+)", local_sdp(page), re.MULTILINE))


def assert_relay(stats: dict[str, Any], case: str, who: str) -> None:
    """The selected pair is relay on our end, and its far end is a relay
    allocation too: both on the TURN server in the DMZ."""
    pair = stats["pair"]
    assert pair["local"] == "relay", (who, pair)
    assert pair["relayProtocol"] == case, (who, pair)
    assert pair["localAddress"] == TURN_ADDR, (who, pair)
    if pair["remote"] == "prflx":
        # The far end's first check reached us before its trickled relay
        # candidate did (one TURN address, so our permission for it was
        # already there). Chrome hides a peer-reflexive address in getStats;
        # the far end's own selected pair, checked in turn, shows it relayed.
        assert pair["remoteAddress"] in ("", None), (who, pair)
        return
    assert pair["remote"] == "relay", (who, pair)
    assert pair["remoteAddress"] == TURN_ADDR, (who, pair)


@pytest.mark.parametrize("case", CASES)
def test_chromium_to_chromium_through_turn(
    city: City, playwright: Playwright, chromium_path: str, tmp_path: Path, case: str
) -> None:
    city.net.set_egress(case)
    room = f"bk-turn-cc-{case}"
    logs: list[str] = []
    try:
        with (
            browser_in(playwright, city, city.net.resident, chromium_path, tmp_path) as res_b,
            browser_in(playwright, city, city.net.staff, chromium_path, tmp_path) as staff_b,
        ):
            resident = open_call_page(res_b, PUBLIC_URL, logs, "resident")
            staff = open_call_page(staff_b, INTERNAL_URL, logs, "staff")
            join(resident, room, "resident", "r-1")
            join(staff, room, "staff", "s-1")
            for page, who in ((resident, "resident"), (staff, "staff")):
                before = stats_when_media(page, who)
                assert_relay(before, case, who)
                assert_flowing(page, before, who)
                assert_call_screen_says_relay(page, case, who)
            # MADOGUCHI_STAFF_ICE_POLICY=relay: the staff console offered relay
            # candidates only, so its address never left the staff network;
            # the resident's browser (policy "all") offered its own too.
            assert candidate_types(staff) == {"relay"}, candidate_types(staff)
            assert STAFF_ADDR not in local_sdp(staff)
            assert "host" in candidate_types(resident), candidate_types(resident)
    except BaseException:
        print("\n".join(logs[-60:]))
        print(city.app_tail())
        print(city.turn.log_tail())
        raise


@contextmanager
def aiortc_peer(city: City, room: str, case: str) -> Iterator[subprocess.Popen[str]]:
    token = join_token(room, "staff", "s-py", secret=APP_SECRET)
    argv = [sys.executable, str(PEER), "--base-url", INTERNAL_URL, "--room", room]
    argv += ["--token", token, "--turn", case]
    # aioice's TLS uses Python's default trust store; point it at the test CA.
    env = child_env(SSL_CERT_FILE=str(city.tls.ca))
    # Popen as a context manager closes the pipes and waits for the process.
    with subprocess.Popen(
        city.net.staff.command(argv),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    ) as proc:
        try:
            yield proc
        finally:
            assert proc.stdin is not None
            proc.stdin.close()  # the peer leaves the call
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def read_result(proc: subprocess.Popen[str], within: float) -> dict[str, Any]:
    assert proc.stdout is not None
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if line:
                result: dict[str, Any] = json.loads(line)
                return result
            break
    proc.kill()
    assert proc.stderr is not None
    raise AssertionError(f"aiortc peer gave no result:\n{proc.stderr.read()[-4000:]}")


@pytest.mark.parametrize("case", CASES)
def test_aiortc_to_chromium_through_turn(
    city: City, playwright: Playwright, chromium_path: str, tmp_path: Path, case: str
) -> None:
    city.net.set_egress(case)
    room = f"bk-turn-pc-{case}"
    logs: list[str] = []
    try:
        with (
            browser_in(playwright, city, city.net.resident, chromium_path, tmp_path) as res_b,
            aiortc_peer(city, room, case) as peer,
        ):
            resident = open_call_page(res_b, PUBLIC_URL, logs, "resident")
            join(resident, room, "resident", "r-1")
            before = stats_when_media(resident, "resident")
            # The other direction, seen by aiortc: decoded video and audio from Chromium.
            result = read_result(peer, TIMEOUT_MS / 1000)
            assert result["video_frames"] > 0 and result["audio_frames"] >= 50, result
            assert result["pair"]["local"] == "relay", result
            assert result["pair"]["remote"] in ("relay", "prflx"), result
            # aioice shows a peer-reflexive address too: the resident's relay allocation.
            assert result["pair"]["localAddress"] == TURN_ADDR, result
            assert result["pair"]["remoteAddress"] == TURN_ADDR, result
            assert_relay(before, case, "resident")
            assert_flowing(resident, before, "resident")
            assert_call_screen_says_relay(resident, case, "resident")
    except BaseException:
        print("\n".join(logs[-60:]))
        print(city.app_tail())
        print(city.turn.log_tail())
        raise
