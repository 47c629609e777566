"""The README's run command: ``madoguchi serve`` on a fresh directory.

One process must come up with the demo city on SQLite, the HTTP API and the
signaling server, and shut down cleanly on SIGINT.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from server_helpers import free_port
from websockets.sync.client import connect


@pytest.mark.slow
def test_serve_runs_app_signaling_and_demo_city(tmp_path: Path) -> None:
    http_port, ws_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")},
        "MADOGUCHI_SIGNALING_PORT": str(ws_port),
        "MADOGUCHI_PUBLIC_BASE_URL": f"http://127.0.0.1:{http_port}",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(http_port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.2)
        departments = httpx.get(f"{base}/api/v1/departments").json()
        assert len(departments) >= 5
        assert sum(len(d["services"]) for d in departments) >= 12
        assert (tmp_path / "var" / "madoguchi.db").exists()
        with connect(f"ws://127.0.0.1:{ws_port}/ws", open_timeout=10) as ws:
            ws.send(json.dumps({"type": "join", "v": 1, "room": "r", "token": "forged"}))
            reply = json.loads(ws.recv(timeout=10))
        assert reply["type"] == "error" and reply["code"] == "token-invalid"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert proc.returncode == 0, out
    assert "INSECURE" in out
