"""How long ``madoguchi`` takes to start: a short subcommand, and ``serve`` until it answers.

Run: .venv/bin/python bench/startup.py [--repeat N]

Operators and every test that seeds a server run ``madoguchi import`` or
``db upgrade``; kiosks and browsers wait for ``serve`` after a restart. For
each of ``--repeat`` rounds this times ``madoguchi api-key x`` (a subcommand
that touches no database: start-up alone) and ``madoguchi serve`` on a fresh
SQLite file from the process start to the first 200 from ``/healthz``, and
reports each round and the minimum (the figure least disturbed by other load).
Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _env(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    env.update(
        MADOGUCHI_MODE="demo",
        MADOGUCHI_DEMO_DATA="false",
        MADOGUCHI_SECRET_KEY="bench-startup-secret-0123456789abcdef",
        MADOGUCHI_DATABASE_URL=f"sqlite:///{db}",
        MADOGUCHI_HOST="127.0.0.1",
        MADOGUCHI_SIGNALING_HOST="127.0.0.1",
        MADOGUCHI_SIGNALING_PORT=str(_free_port()),
        MADOGUCHI_ICE_SERVERS="[]",
    )
    return env


def time_subcommand(env: dict[str, str]) -> float:
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "app.cli", "api-key", "bench"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return time.monotonic() - started


def time_serve(env: dict[str, str]) -> float:
    port = _free_port()
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(trust_env=False, timeout=1) as client:
            while True:
                if proc.poll() is not None:
                    raise SystemExit("madoguchi serve exited during start-up")
                try:
                    if client.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                        return time.monotonic() - started
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    short: list[float] = []
    serve: list[float] = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="mdg-startup-") as tmp:
            env = _env(Path(tmp) / "madoguchi.db")
            short.append(time_subcommand(env))
            serve.append(time_serve(env))
    print("madoguchi api-key (s):", ", ".join(f"{t:.2f}" for t in short), f"min {min(short):.2f}")
    print("madoguchi serve to /healthz (s):", ", ".join(f"{t:.2f}" for t in serve), end=" ")
    print(f"min {min(serve):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
