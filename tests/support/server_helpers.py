"""Helpers shared by several test modules."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from smtp_inbox import free_port  # type: ignore[import-not-found]

from app.core.context import AppContext
from app.main import create_app

ROOT = Path(__file__).resolve().parents[2]


class ServerThread:
    def __init__(self, ctx: AppContext) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.sock = sock
        config = uvicorn.Config(create_app(ctx), log_level="warning", limit_concurrency=1000)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(20)
        self.sock.close()


DEADLINE = 120.0


class App:
    def __init__(self, url: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
        env.update(
            MADOGUCHI_MODE="production",
            MADOGUCHI_SECRET_KEY="storm-test-" + "k" * 40,
            MADOGUCHI_DATABASE_URL=url,
            MADOGUCHI_PORT=str(self.port),
            MADOGUCHI_SIGNALING_PORT=str(free_port()),
            MADOGUCHI_PUBLIC_BASE_URL=self.base,
            PYTHONPATH=str(ROOT),
        )
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve"],
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + DEADLINE
        while True:
            assert self.proc.poll() is None, "the app exited while starting"
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the app did not start"
            time.sleep(0.1)

    def stop(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(DEADLINE)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
