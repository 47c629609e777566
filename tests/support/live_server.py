"""``madoguchi serve`` as a subprocess on the demo city, with a staff API key.

Shared by the concurrent fuzz test (tests/app/test_cli_fuzz.py), the soak
test and their long versions under bench/. The server's output goes to a log
file so a failure can show the server's side of it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
from smtp_inbox import free_port  # type: ignore[import-not-found]

from app.auth import api_keys
from app.core.clock import SystemClock
from app.core.tokens import Purpose, Tokens

ROOT = Path(__file__).resolve().parents[2]
SECRET = "live-server-" + "s" * 40
START_SECONDS = 120.0


@dataclass
class LiveServer:
    """One app process (``serve``: app, signaling and jobs, or ``--no-embedded``)."""

    workdir: Path
    database_url: str | None = None  # None: the embedded default (SQLite under workdir)
    redis_url: str | None = None
    login: str = "admin"
    # More staff API keys, login -> key (e.g. one per staff member of a load test).
    extra_keys: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    name: str = "app"
    port: int = field(default_factory=free_port)
    signaling_port: int = field(default_factory=free_port)
    api_key: str = field(default_factory=api_keys.new_key)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
        env.update(
            MADOGUCHI_MODE="demo",  # migrates and loads the demo city on start
            MADOGUCHI_SECRET_KEY=SECRET,
            MADOGUCHI_SIGNALING_PORT=str(self.signaling_port),
            MADOGUCHI_PUBLIC_BASE_URL=self.base_url,
            MADOGUCHI_API_KEYS=json.dumps(
                [
                    api_keys.config_entry(login, key)
                    for login, key in {**self.extra_keys, self.login: self.api_key}.items()
                ]
            ),
            PYTHONPATH=str(ROOT),
        )
        if self.database_url:
            env["MADOGUCHI_DATABASE_URL"] = self.database_url
        if self.redis_url:
            env["MADOGUCHI_REDIS_URL"] = self.redis_url
        env.update(self.extra_env)
        return env

    def start(self, *, wait: bool = True) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port)],
                env=self.env(),
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + START_SECONDS
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited while starting:\n{self.log_tail()}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not come up:\n{self.log_tail()}")
            time.sleep(0.2)

    def rss_bytes(self) -> int:
        assert self.proc is not None
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
        return int(line.split()[1]) * 1024

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> int:
        """SIGINT (a clean shutdown), then the exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def database(self) -> str:
        """The database URL the server uses (for checks made behind its back)."""
        return self.database_url or f"sqlite:///{self.workdir / 'var' / 'madoguchi.db'}"


def kiosk_token(kiosk_id: int, days: int = 7) -> str:
    """A kiosk link as the admin pages issue it, signed with the servers' secret."""
    now = SystemClock().now()
    return Tokens(SECRET).issue(Purpose.KIOSK, {"k": kiosk_id}, expires=now + timedelta(days=days))
