"""The city's network with coturn and the app in its DMZ, for tests/network.

Shared by ``conftest.py`` (fixtures) and the tests, which import from here
under this unique name rather than from ``conftest`` (several test folders
have one). ``running_city`` builds the network of ``topology.py``, makes a
test CA and the TURN server's certificate (tests/support/tls_helpers.py),
starts Debian's coturn with docker/turnserver.conf
(tests/support/coturn_helpers.py) and ``madoguchi serve`` in the DMZ. The
app hands out per-call TURN credentials for the TURN URLs of
docker/compose.yaml, plus TURNS on 443.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# The browser and media harnesses are reused as they are (their folders are
# not packages); appended, so that nothing there shadows this folder's modules.
sys.path += [str(Path(__file__).parents[1] / "browser"), str(Path(__file__).parents[1] / "media")]

from browser_harness import (
    CHROMIUM,
    IN_CI,
    TINY_CITY_YAML,
    madoguchi,
    thread_in_namespace,
    wait_until_up,
)
from coturn_helpers import Coturn, running_coturn
from tls_helpers import ServerCert, make_server_cert, trusting_home
from topology import (
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

from app.ops.migrate import upgrade

__all__ = ["CHROMIUM", "IN_CI", "City", "running_city"]  # and the constants below

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


@contextmanager
def running_city(root: Path) -> Iterator[City]:
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
