"""Calls across a city's networks: resident, DMZ and staff namespaces, real coturn.

The ``city`` fixture (one per test session) builds the network of
``topology.py``, makes a test CA and the TURN server's certificate
(``tests/support/tls_helpers.py``), starts Debian's coturn with docker/turnserver.conf
(``tests/support/coturn_helpers.py``) and ``madoguchi serve`` in the DMZ. The app hands out per-call
TURN credentials for the TURN URLs of docker/compose.yaml, plus TURNS on 443.
Browsers and aiortc peers run in the resident and staff namespaces; each test
sets the client networks' egress policy (``CityNetwork.set_egress``).

Nothing here leaves the namespaces (see ``topology.py`` for the addresses).
Without root, iproute2, nftables, coturn, certutil, Chromium or Playwright the
tests skip with the reason, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# The browser and media harnesses are reused as they are (they are not packages).
sys.path[:0] = [
    str(Path(__file__).parents[1] / "browser"),
    str(Path(__file__).parents[1] / "media"),
]

from browser_harness import (  # noqa: E402
    CHROMIUM,
    IN_CI,
    TINY_CITY_YAML,
    madoguchi,
    thread_in_namespace,
    wait_until_up,
)
from coturn_helpers import TURNSERVER, Coturn, running_coturn  # noqa: E402
from tls_helpers import ServerCert, make_server_cert, trusting_home  # noqa: E402
from topology import (  # noqa: E402
    APP_PORT,
    DMZ_INTERNAL,
    DMZ_PUBLIC,
    RESIDENT_ADDR,
    SIGNALING_PORT,
    STAFF_CIDR,
    STAFF_NET,
    TURN_ADDR,
    TURN_PORT,
    TURNS_443,
    TURNS_PORT,
    CityNetwork,
    city_network,
)

from app.ops.migrate import upgrade  # noqa: E402
from media.loopback import namespace_unavailable_reason  # noqa: E402

if TYPE_CHECKING:
    from playwright.sync_api import Playwright

APP_SECRET = "network-tests-secret-not-for-production"
TURN_SECRET = "network-tests-turn-secret"
REALM = "city.test"
PUBLIC_URL = f"http://{DMZ_PUBLIC}:{APP_PORT}"
INTERNAL_URL = f"http://{DMZ_INTERNAL}:{APP_PORT}"
# docker/compose.yaml's MADOGUCHI_TURN_URLS, on the test's TURN host, plus TURNS on 443.
TURN_URLS = [
    f"turn:{TURN_ADDR}:{TURN_PORT}?transport=udp",
    f"turn:{TURN_ADDR}:{TURN_PORT}?transport=tcp",
    f"turns:{TURN_ADDR}:{TURNS_PORT}?transport=tcp",
    f"turns:{TURN_ADDR}:{TURNS_443}?transport=tcp",
]


def unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def network_requirements() -> None:
    reason = namespace_unavailable_reason()
    if reason is not None:
        unavailable(f"network tests need private network namespaces: {reason}")
    for tool, package in (
        (TURNSERVER, "coturn"),
        ("nft", "nftables"),
        ("certutil", "libnss3-tools"),
    ):
        if shutil.which(tool) is None:
            unavailable(f"network tests need {tool} (Debian package {package})")


@dataclass(frozen=True)
class City:
    net: CityNetwork
    turn: Coturn
    tls: ServerCert
    home: Path  # a HOME whose NSS database trusts the test CA
    env: dict[str, str]
    app_log: Path

    def app_tail(self, lines: int = 60) -> str:
        text = self.app_log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def app_env(database: Path) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    for key in list(inherited):
        if key.lower().endswith("_proxy"):
            del inherited[key]
    return {
        **inherited,
        "MADOGUCHI_MODE": "demo",
        "MADOGUCHI_DEMO_DATA": "false",
        "MADOGUCHI_SECRET_KEY": APP_SECRET,
        "MADOGUCHI_DATABASE_URL": f"sqlite:///{database}",
        "MADOGUCHI_HOST": "0.0.0.0",
        "MADOGUCHI_PORT": str(APP_PORT),
        "MADOGUCHI_PUBLIC_BASE_URL": PUBLIC_URL,
        "MADOGUCHI_SIGNALING_HOST": "0.0.0.0",
        "MADOGUCHI_SIGNALING_PORT": str(SIGNALING_PORT),
        "MADOGUCHI_SIGNALING_PUBLIC_URL": f"ws://{DMZ_PUBLIC}:{SIGNALING_PORT}/ws",
        "MADOGUCHI_ICE_SERVERS": "[]",
        "MADOGUCHI_TURN_URLS": "[" + ", ".join(f'"{u}"' for u in TURN_URLS) + "]",
        "MADOGUCHI_TURN_SECRET": TURN_SECRET,
        # The city's settings for its networks (docs/deploy.md): staff pages only
        # from the staff network, staff links on the internal address, and staff
        # consoles and kiosks relay-only.
        "MADOGUCHI_INTERNAL_BASE_URL": INTERNAL_URL,
        "MADOGUCHI_STAFF_NETWORKS": f'["{STAFF_CIDR}"]',
        "MADOGUCHI_STAFF_ICE_POLICY": "relay",
        # Join links open well before the slot: the pre-call check test books the next one.
        "MADOGUCHI_JOIN_OPENS_BEFORE_MINUTES": "120",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture(scope="session")
def city(network_requirements: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    root = tmp_path_factory.mktemp("city")
    with city_network() as net:
        tls = make_server_cert(root / "tls", ip=TURN_ADDR)
        home = trusting_home(root / "home", tls.ca)
        with running_coturn(
            net.dmz,
            root / "coturn",
            address=TURN_ADDR,
            cert=tls.cert,
            key=tls.key,
            secret=TURN_SECRET,
            realm=REALM,
            denied=[RESIDENT_ADDR, STAFF_NET],
        ) as turn:
            env = app_env(root / "madoguchi.db")
            # The tiny all-day city of the browser tests, for bookings to check with.
            upgrade(env["MADOGUCHI_DATABASE_URL"])
            (root / "city.yaml").write_text(TINY_CITY_YAML, encoding="utf-8")
            madoguchi(net.dmz, env, "import", str(root / "city.yaml"))
            log_path = root / "serve.log"
            with log_path.open("wb") as log:
                proc = subprocess.Popen(
                    net.dmz.command([sys.executable, "-m", "app.cli", "serve"]),
                    env=env,
                    cwd=root,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            try:
                with thread_in_namespace(net.dmz):
                    wait_until_up(proc, log_path)
                yield City(net=net, turn=turn, tls=tls, home=home, env=env, app_log=log_path)
            finally:
                proc.send_signal(2)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)


@pytest.fixture(scope="session")
def chromium_path(network_requirements: None) -> str:
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if path is None:
        unavailable("network tests need Debian's chromium (/usr/bin/chromium)")
    if importlib.util.find_spec("playwright") is None:
        unavailable("network tests need playwright (python)")
    assert path is not None
    return path


@pytest.fixture(scope="module")
def playwright(chromium_path: str) -> Iterator[Playwright]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as manager:
        yield manager
