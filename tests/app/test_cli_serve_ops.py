"""``madoguchi serve`` as a real process: JSON logs with tokens and secrets masked,
probes, and the in-process signaling node's metrics on the app's /metrics."""

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
from server_helpers import free_port  # type: ignore[import-not-found]

SECRET = "serve-ops-secret-" + "z" * 32
TOKEN = "eyJiIjoxMjN9.aW4kZg.c2lnbmF0dXJlLW5vdC1yZWFsLWF0LWFsbA"


@pytest.mark.slow
def test_serve_logs_json_and_masks_tokens_and_secrets(tmp_path: Path) -> None:
    http_port, ws_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")},
        "MADOGUCHI_SIGNALING_PORT": str(ws_port),
        "MADOGUCHI_PUBLIC_BASE_URL": f"http://127.0.0.1:{http_port}",
        "MADOGUCHI_SECRET_KEY": SECRET,
        "MADOGUCHI_LOG_FORMAT": "json",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(http_port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{http_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "serve did not become ready"
            time.sleep(0.2)
        assert httpx.get(f"{base}/livez").json() == {"status": "ok"}
        # A link token in the path, as an access-log line would carry it.
        assert httpx.get(f"{base}/join/{TOKEN}").status_code in (403, 404)
        metrics = httpx.get(f"{base}/metrics").text
        assert "madoguchi_signaling_connections" in metrics
        assert 'madoguchi_http_requests_total{method="GET",route="/livez",status="200"}' in metrics
        node = httpx.get(f"http://127.0.0.1:{ws_port}/livez")
        assert node.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert proc.returncode == 0, out
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert lines and len(lines) == len([x for x in out.splitlines() if x.strip()]), out
    access = [e for e in lines if e["logger"] == "uvicorn.access"]
    assert any("/join/[token]" in e["message"] for e in access), access
    assert TOKEN not in out and SECRET not in out
