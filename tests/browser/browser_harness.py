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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import yaml

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

# The test cities, built from parts: each part's defaults are the kiosk city
# most browser tests share (one division open all day every day, one service
# at kiosks and online, Yamada qualified for it, one branch with one kiosk);
# a test passes the parts it needs otherwise.
ALL_DAY = "00:00-23:59"
WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CITY = {
    "name_ja": "てすと市",
    "name_en": "Test City",
    "close_public_holidays": False,
    "close_year_end": False,
}


def hours(span: str = ALL_DAY, days: Iterable[str] = WEEK) -> dict[str, list[str]]:
    return {day: [span] for day in days}


def department(
    slug: str = "soudan",
    name_ja: str = "総合相談課",
    name_en: str = "General Consultation Division",
    **more: Any,
) -> dict[str, Any]:
    return {"slug": slug, "name_ja": name_ja, "name_en": name_en, "hours": hours(), **more}


def service(
    slug: str = "madoguchi",
    name_ja: str = "窓口での相談",
    name_en: str = "Counter consultation",
    **more: Any,
) -> dict[str, Any]:
    return {
        "slug": slug,
        "department": "soudan",
        "name_ja": name_ja,
        "name_en": name_en,
        "duration": 20,
        "slot_step": 5,
        "channels": ["kiosk", "online"],
        "min_notice": 0,
        "horizon_days": 7,
        "change_cutoff": 0,
        **more,
    }


def staff_member(
    login: str = STAFF_LOGIN, display_name: str = STAFF_NAME, **more: Any
) -> dict[str, Any]:
    """``skills=None`` leaves the skills out (an administrator's)."""
    member = {
        "login": login,
        "display_name": display_name,
        "email": f"{login}@city.test.example",
        "departments": ["soudan"],
        "skills": ["madoguchi"],
        "password": "demo",
        **more,
    }
    return {key: value for key, value in member.items() if value is not None}


def kiosk_entry(
    slug: str = "kita-1", name: str = "北支所 リモート窓口", **more: Any
) -> dict[str, Any]:
    return {"slug": slug, "name": name, **more}


def branch(**more: Any) -> dict[str, Any]:
    return {
        "slug": "kita",
        "name_ja": "北支所",
        "name_en": "North Branch Office",
        "address": "てすと市北町1丁目2番3号",
        "kiosks": [kiosk_entry()],
        **more,
    }


def interpreter_language(code: str, name_ja: str, name_en: str, name_native: str) -> dict[str, str]:
    return {"code": code, "name_ja": name_ja, "name_en": name_en, "name_native": name_native}


def interpreter_entry(slug: str, name: str, languages: list[str], **more: Any) -> dict[str, Any]:
    return {
        "slug": slug,
        "name": name,
        "email": f"{slug}@interp.test.example",
        "languages": languages,
        "hours": hours(),
        **more,
    }


class _BlockDumper(yaml.SafeDumper):
    """Indents list items under their key, as the city files are written."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def build_city_yaml(
    *,
    departments: list[dict[str, Any]] | None = None,
    services: list[dict[str, Any]] | None = None,
    staff: list[dict[str, Any]] | None = None,
    branches: list[dict[str, Any]] | None = None,
    interpreter_languages: list[dict[str, str]] | None = None,
    interpreters: list[dict[str, Any]] | None = None,
) -> str:
    """A demo city file; ``None`` is the default part, ``[]`` leaves the section out."""
    doc: dict[str, Any] = {
        "demo": True,
        "city": CITY,
        "departments": [department()] if departments is None else departments,
        "services": [service()] if services is None else services,
        "staff": [staff_member()] if staff is None else staff,
        "branches": [branch()] if branches is None else branches,
        "interpreter_languages": interpreter_languages or [],
        "interpreters": interpreters or [],
    }
    doc = {key: value for key, value in doc.items() if value != []}
    return yaml.dump(doc, Dumper=_BlockDumper, allow_unicode=True, sort_keys=False)


# A tiny city, open around the clock with no holidays, so that a slot a few
# minutes after the app's clock (conftest.app_clock) always exists; online only.
TINY_CITY_YAML = build_city_yaml(
    departments=[
        department(
            description_ja="暮らしの困りごとの相談を受け付けます。",
            description_en="Help with everyday questions.",
        )
    ],
    services=[
        service(
            "sodan",
            "オンライン相談",
            "Online consultation",
            description_ja="本人確認書類をお手元にご用意ください。",
            description_en="Please have photo ID at hand.",
            channels=["online"],
        )
    ],
    staff=[
        staff_member(skills=["sodan"]),
        staff_member(ADMIN_LOGIN, "管理者", skills=None, is_admin=True),
    ],
    branches=[],
)


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
