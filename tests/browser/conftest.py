"""Browser tests: the real app and headless Chromium in a loopback-only namespace.

The network rule (DEVELOPERS.md) holds here as in the media tests: every test
gets a fresh ``ip netns`` namespace with only ``lo`` up, the app and its
signaling server run inside it, and so does Chromium; ICE server lists are
empty. Nothing can leave the machine.

Fixtures, meant to be shared by every browser test (e2e calls, axe checks,
screenshots):

``netns_here``
    A fresh namespace that the *test's own thread* has joined for the
    duration of the test (``setns(2)`` is per thread; the thread goes back to
    its original namespace afterwards). Processes the test starts, including
    Playwright's driver and the Chromium it launches, inherit it, and the test
    can reach the app on ``127.0.0.1`` directly (e.g. with ``httpx``).
``city_yaml``
    The city the app is seeded with (``madoguchi import``). The default,
    ``TINY_CITY_YAML``, is open every day 00:00-23:59 with no holidays, and
    its service ``sodan`` has no minimum notice and a 5-minute slot step, so
    the next slot is always a few minutes after the app's clock.
    Override the fixture in a test module for another city, built with
    ``browser_harness.build_city_yaml`` from the parts it needs.
``app_env``
    The ``MADOGUCHI_*`` environment of the app (temporary SQLite database,
    fixed secret, empty ICE servers, join links open 2 hours early). Override
    or extend it to change settings.
``app_clock``
    The clock the app runs on: an ``OffsetClock`` that starts at
    ``served_clock.CITY_OPEN`` (a weekday 10:00 in Tokyo, inside the test
    cities' hours) and runs at real speed, so no test depends on the wall
    clock's time of day. Override it in a test module for another start.
``app_in_netns``
    ``madoguchi serve`` (app, signaling and jobs in one process, all on
    ``app_clock``) inside the namespace on ``127.0.0.1:8000``, signaling on
    ``:8765``; yields an ``AppInNetns`` that unpacks as
    ``(namespace, base_url)``; its ``clock`` reads the app's time.
``chromium_in_netns``
    A Playwright (sync API) ``Browser``: Debian's ``/usr/bin/chromium`` with a
    fake camera and microphone, launched inside the namespace. Make one
    context per person (``browser.new_context(base_url=...)``).

Constants (staff logins of the tiny city, Chromium flags) and ``AppInNetns``
are in ``browser_harness.py``: import them from there, not from this file.
Without namespace support, Chromium or Playwright the tests skip with the
reason, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from browser_harness import (
    BASE_URL,
    CHROMIUM,
    CHROMIUM_ARGS,
    HTTP_PORT,
    IN_CI,
    SECRET,
    SERVE_SCRIPT,
    SIGNALING_PORT,
    TINY_CITY_YAML,
    AppInNetns,
    madoguchi,
    thread_in_namespace,
    wait_until_up,
)
from served_clock import city_open_clock

from app.core.clock import OffsetClock
from app.ops.migrate import upgrade
from media.loopback import NetworkNamespace, namespace_unavailable_reason

if TYPE_CHECKING:
    from playwright.sync_api import Browser


def _unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser_requirements() -> str:
    """Namespaces, Chromium and Playwright are there; the Chromium path."""
    reason = namespace_unavailable_reason()
    if reason is not None:
        _unavailable(f"browser tests need a private network namespace: {reason}")
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if path is None:
        _unavailable("browser tests need Debian's chromium (/usr/bin/chromium)")
    if importlib.util.find_spec("playwright") is None:
        _unavailable("browser tests need playwright (python)")
    assert path is not None
    return path


@pytest.fixture
def netns_here(browser_requirements: str) -> Iterator[NetworkNamespace]:
    """A fresh loopback-only namespace that this test's thread has joined."""
    ns = NetworkNamespace.create(prefix="mdg-web")
    try:
        with thread_in_namespace(ns):
            yield ns
    finally:
        ns.delete()


@pytest.fixture
def city_yaml() -> str:
    return TINY_CITY_YAML


@pytest.fixture
def app_env(tmp_path: Path) -> dict[str, str]:
    """Environment of every ``madoguchi`` command the app fixture runs."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    # Nothing in the namespace could reach a proxy anyway; make sure none is tried.
    for key in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        inherited.pop(key, None)
    return {
        **inherited,
        "MADOGUCHI_MODE": "demo",
        "MADOGUCHI_DEMO_DATA": "false",
        "MADOGUCHI_SECRET_KEY": SECRET,
        "MADOGUCHI_DATABASE_URL": f"sqlite:///{tmp_path / 'madoguchi.db'}",
        "MADOGUCHI_HOST": "127.0.0.1",
        "MADOGUCHI_PORT": str(HTTP_PORT),
        "MADOGUCHI_PUBLIC_BASE_URL": BASE_URL,
        "MADOGUCHI_SIGNALING_HOST": "127.0.0.1",
        "MADOGUCHI_SIGNALING_PORT": str(SIGNALING_PORT),
        "MADOGUCHI_ICE_SERVERS": "[]",
        # Join links open well before the slot: the test books the next free slot.
        "MADOGUCHI_JOIN_OPENS_BEFORE_MINUTES": "120",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def app_clock() -> OffsetClock:
    return city_open_clock()


# Migrated and imported databases, by city and settings: most tests seed the same
# city, and a copy of the file is the same database for a fraction of the time.
_SEEDED: dict[tuple[str, frozenset[tuple[str, str]]], Path] = {}


def seed_database(
    ns: NetworkNamespace, env: dict[str, str], city_yaml: str, tmp_path: Path
) -> None:
    """``madoguchi db upgrade`` and ``madoguchi import`` into the app's SQLite file."""
    url = env["MADOGUCHI_DATABASE_URL"]
    target = Path(url.removeprefix("sqlite:///"))
    key = (city_yaml, frozenset((k, v) for k, v in env.items() if k != "MADOGUCHI_DATABASE_URL"))
    template = _SEEDED.get(key)
    if template is not None:
        _copy_database(template, target)
        return
    city = tmp_path / "city.yaml"
    city.write_text(city_yaml, encoding="utf-8")
    # `madoguchi db upgrade`, in this process: it saves a Python start-up.
    upgrade(url)
    madoguchi(ns, env, "import", str(city))
    template = Path(tempfile.mkdtemp(prefix="mdg-seeded-")) / "seeded.db"
    _copy_database(target, template)
    _SEEDED[key] = template


def _copy_database(source: Path, target: Path) -> None:
    """SQLite's online backup: complete even while the source's WAL is not checkpointed."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


@pytest.fixture
def app_in_netns(
    netns_here: NetworkNamespace,
    app_env: dict[str, str],
    app_clock: OffsetClock,
    city_yaml: str,
    tmp_path: Path,
) -> Iterator[AppInNetns]:
    """``madoguchi serve`` in the namespace, on a fresh SQLite seeded from ``city_yaml``."""
    seed_database(netns_here, app_env, city_yaml, tmp_path)
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            netns_here.command(
                [
                    sys.executable,
                    str(SERVE_SCRIPT),
                    "--clock-start",
                    app_clock.start.isoformat(),
                    "--clock-since",
                    repr(app_clock.since),
                ]
            ),
            env=app_env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    app = AppInNetns(
        namespace=netns_here,
        base_url=BASE_URL,
        signaling_url=f"ws://127.0.0.1:{SIGNALING_PORT}/ws",
        env=app_env,
        clock=app_clock,
        log_path=log_path,
        process=proc,
    )
    try:
        wait_until_up(proc, log_path)
        yield app
    finally:
        if proc.poll() is None:
            # SIGINT: uvicorn shuts down gracefully, signaling closes with 1012.
            proc.send_signal(2)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


@pytest.fixture
def chromium_in_netns(netns_here: NetworkNamespace, browser_requirements: str) -> Iterator[Browser]:
    """Headless Chromium (fake camera and microphone) inside the namespace."""
    from playwright.sync_api import sync_playwright

    manager = sync_playwright().start()
    try:
        browser = manager.chromium.launch(
            executable_path=browser_requirements, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()
    finally:
        manager.stop()
