"""Shared pieces of the browser harness, imported by ``conftest.py`` and by tests.

They live here rather than in ``conftest.py`` so that tests can import them
under a unique module name (``from browser_harness import ...``); see
``conftest.py`` for the fixtures and the network rule.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from app.core.clock import Clock
from media.loopback import NetworkNamespace

if TYPE_CHECKING:
    from playwright.sync_api import Page

IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--allow-loopback-in-peer-connection",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--headless=new",
    "--no-sandbox",  # tests run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
]
HTTP_PORT = 8000
SIGNALING_PORT = 8765
BASE_URL = f"http://127.0.0.1:{HTTP_PORT}"
SECRET = "browser-tests-secret-not-for-production"
STARTUP_SECONDS = 60.0
SERVE_SCRIPT = Path(__file__).with_name("serve_in_netns.py")

# Demo-style staff credentials of TINY_CITY_YAML.
STAFF_LOGIN = "yamada"
STAFF_PASSWORD = "demo"
STAFF_NAME = "山田 太郎"
ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = "demo"

TINY_CITY_YAML = """\
# A tiny city for browser tests: open around the clock, no holidays, so a
# slot a few minutes after the app's clock (conftest.app_clock) always exists.
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
    description_ja: 暮らしの困りごとの相談を受け付けます。
    description_en: Help with everyday questions.
    hours:
      mon: &allday ["00:00-23:59"]
      tue: *allday
      wed: *allday
      thu: *allday
      fri: *allday
      sat: *allday
      sun: *allday
services:
  - slug: sodan
    department: soudan
    name_ja: オンライン相談
    name_en: Online consultation
    description_ja: 本人確認書類をお手元にご用意ください。
    description_en: Please have photo ID at hand.
    duration: 20
    slot_step: 5
    channels: [online]
    min_notice: 0
    horizon_days: 7
    change_cutoff: 0
staff:
  - login: yamada
    display_name: 山田 太郎
    email: yamada@city.test.example
    departments: [soudan]
    skills: [sodan]
    password: demo
  - login: admin
    display_name: 管理者
    email: admin@city.test.example
    departments: [soudan]
    is_admin: true
    password: demo
"""


_CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    name = ctypes.util.find_library("c")
    assert name is not None
    libc = ctypes.CDLL(name, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns failed: {os.strerror(err)}")


@contextlib.contextmanager
def thread_in_namespace(ns: NetworkNamespace) -> Iterator[None]:
    """Move the calling thread into ``ns``; back to where it was on exit."""
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        ns.enter_current_thread()
        try:
            yield
        finally:
            _setns(original)
    finally:
        os.close(original)


@dataclass
class AppInNetns:
    """The running app; unpacks as ``(namespace, base_url)``."""

    namespace: NetworkNamespace
    base_url: str
    signaling_url: str
    env: dict[str, str]
    clock: Clock  # the app's: the same instant in the test as in the server
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.namespace, self.base_url))

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run another ``madoguchi`` command against the same database."""
        return madoguchi(self.namespace, self.env, *args)


def madoguchi(
    ns: NetworkNamespace, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ns.command([sys.executable, "-m", "app.cli", *args]),
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"madoguchi {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def wait_until_up(proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    with httpx.Client(trust_env=False, timeout=2) as client:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    "madoguchi serve exited:\n" + log_path.read_text(errors="replace")
                )
            try:
                if client.get(f"{BASE_URL}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    "madoguchi serve did not come up:\n" + log_path.read_text(errors="replace")
                )
            time.sleep(0.2)


CALL_STATS = "() => window.madoguchiCall.stats()"
MEDIA_START_SECONDS = 20.0


def wait_connected(*pages: Page) -> None:
    """Each page shows the call and its peer connection reports `connected`."""
    for page in pages:
        page.wait_for_selector("#call-app[data-call-state=in-call]")
        page.wait_for_function(
            "() => window.madoguchiCall.pc && "
            "window.madoguchiCall.pc.connectionState === 'connected'"
        )


def assert_media_flows(page: Page, who: str) -> None:
    """Decoded video frames and received audio packets both keep increasing.

    `connected` comes before the first decoded frame (the decoder waits for a
    key frame), so the first snapshot is taken once media has started at all;
    the test fails if it has not within MEDIA_START_SECONDS.
    """
    deadline = time.monotonic() + MEDIA_START_SECONDS
    before: dict[str, Any] | None = page.evaluate(CALL_STATS)  # stats() is a promise
    while not (before and before["framesDecoded"] > 0 and before["audioPacketsReceived"] > 0):
        assert time.monotonic() < deadline, (who, "no media within the time limit", before)
        page.wait_for_timeout(200)
        before = page.evaluate(CALL_STATS)
    page.wait_for_timeout(2500)
    after: dict[str, Any] = page.evaluate(CALL_STATS)
    assert after["framesDecoded"] > before["framesDecoded"] > 0, (who, before, after)
    assert after["audioPacketsReceived"] > before["audioPacketsReceived"] > 0, (
        who,
        before,
        after,
    )
