"""Debian's coturn, started the way docker/compose.yaml starts it.

The configuration is docker/turnserver.conf itself, unchanged (the same
``use-auth-secret``, ports, relay range and ``denied-peer-ip`` lines), plus
the lines a deployment adds for its own host: which address to listen on and
relay from, the TLS certificate, and files kept inside the test's directory.
The shared secret and realm go on the command line, as compose passes them.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from media.loopback import NetworkNamespace

SHIPPED_CONF = Path(__file__).resolve().parents[2] / "docker" / "turnserver.conf"
TURNSERVER = "/usr/bin/turnserver"
STARTUP_SECONDS = 15.0


@dataclass(frozen=True)
class Coturn:
    address: str
    secret: str
    realm: str
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def write_config(
    directory: Path, *, address: str, cert: Path, key: Path, denied: Sequence[str]
) -> Path:
    """docker/turnserver.conf with this host's own lines appended."""
    local = "\n".join(
        [
            "",
            "# -- added by the test for its own host (tests/support/coturn_helpers.py) --",
            # The test's client networks stand in for a home LAN (192.168.x) and
            # the city LAN (10.x), which the shipped lines above deny. Deny them
            # too, so that coturn relays only between its own allocations, as it
            # does in production, and never into a client network.
            *(f"denied-peer-ip={r}" for r in denied),
            f"listening-ip={address}",
            f"relay-ip={address}",
            f"cert={cert}",
            f"pkey={key}",
            f"pidfile={directory / 'turnserver.pid'}",
            f"userdb={directory / 'turndb'}",
            "",
        ]
    )
    conf = directory / "turnserver.conf"
    conf.write_text(SHIPPED_CONF.read_text(encoding="utf-8") + local, encoding="utf-8")
    return conf


def _wait_tcp(ns: NetworkNamespace, address: str, port: int, proc: subprocess.Popen[bytes]) -> None:
    """Wait until coturn accepts TCP on ``address:port`` (checked from inside ``ns``)."""
    probe = (
        "import socket,sys\n"
        "try: socket.create_connection((sys.argv[1], int(sys.argv[2])), 0.5).close()\n"
        "except OSError: sys.exit(1)\n"
    )
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("coturn exited at start-up")
        check = subprocess.run(
            ns.command([sys.executable, "-c", probe, address, str(port)]), capture_output=True
        )
        if check.returncode == 0:
            return
        time.sleep(0.2)
    raise RuntimeError(f"coturn did not listen on {address}:{port}")


@contextmanager
def running_coturn(
    ns: NetworkNamespace,
    directory: Path,
    *,
    address: str,
    cert: Path,
    key: Path,
    secret: str,
    realm: str,
    denied: Sequence[str],
    tls_port: int = 5349,
) -> Iterator[Coturn]:
    directory.mkdir(parents=True, exist_ok=True)
    conf = write_config(directory, address=address, cert=cert, key=key, denied=denied)
    log_path = directory / "turnserver.log"
    argv = [
        TURNSERVER,
        "-c",
        str(conf),
        f"--static-auth-secret={secret}",
        f"--realm={realm}",
    ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(ns.command(argv), stdout=log, stderr=subprocess.STDOUT)
    server = Coturn(address=address, secret=secret, realm=realm, log_path=log_path)
    try:
        try:
            _wait_tcp(ns, address, tls_port, proc)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}:\n{server.log_tail()}") from None
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
