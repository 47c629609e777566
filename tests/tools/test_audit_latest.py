"""scripts/audit_latest.py against a PyPI JSON API served on loopback.

The server answers /pypi/NAME/json for every distribution installed in this
venv: jinja2 at its installed version with one advisory, pyyaml a release
ahead of what is installed (so it cannot be audited), all others clean.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "audit_latest.py"
ADVISORY = {"id": "PYSEC-2099-1", "aliases": ["CVE-2099-0001"], "fixed_in": ["99.0"]}


class FakePyPI(BaseHTTPRequestHandler):
    vulnerable: str = "jinja2"
    behind: str = "pyyaml"

    def do_GET(self) -> None:
        parts = self.path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "pypi" or parts[2] != "json":
            self.send_error(404)
            return
        name = parts[1]
        if name == "madoguchi":
            self.send_error(404)
            return
        try:
            installed = next(d for d in _installed() if d[0] == name)[1]
        except StopIteration:
            self.send_error(404)
            return
        latest = installed + ".1" if name == self.behind else installed
        vulns = [ADVISORY] if name == self.vulnerable else []
        body = json.dumps({"info": {"version": latest}, "vulnerabilities": vulns}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _installed() -> list[tuple[str, str]]:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import audit_latest  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    return list(audit_latest.installed().items())


@pytest.fixture
def pypi() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakePyPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run(pypi: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MADOGUCHI_AUDIT_PYPI": pypi}
    return subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env, timeout=120
    )


def test_a_known_vulnerability_fails_the_audit(pypi: str) -> None:
    result = run(pypi)
    assert result.returncode == 1, result.stdout + result.stderr
    jinja = version("jinja2")
    assert f"VULNERABLE jinja2=={jinja}: PYSEC-2099-1, CVE-2099-0001 (fixed in: 99.0)" in (
        result.stdout
    )
    assert f"not audited: pyyaml=={version('pyyaml')} (latest " in result.stdout
    assert "not audited: madoguchi==" in result.stdout
    assert ", 1 with known vulnerabilities" in result.stdout


def test_a_clean_environment_passes(pypi: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FakePyPI, "vulnerable", "")
    result = run(pypi)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VULNERABLE" not in result.stdout


def test_an_unreachable_index_fails_only_in_ci() -> None:
    closed = "http://127.0.0.1:9"  # discard port: nothing listens
    env = {**os.environ, "MADOGUCHI_AUDIT_PYPI": closed}
    for ci, expected in (("true", 1), ("", 0)):
        result = subprocess.run(
            [sys.executable, str(SCRIPT)],
            capture_output=True,
            text=True,
            env={**env, "CI": ci},
            timeout=120,
        )
        assert result.returncode == expected, (ci, result.stdout, result.stderr)
        assert "PyPI not reachable" in result.stderr
