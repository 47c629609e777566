"""``madoguchi signaling``: a standalone node that drains on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


def test_standalone_node_serves_and_drains_on_sigterm(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    env["MADOGUCHI_DATABASE_URL"] = f"sqlite:///{tmp_path / 'sig.db'}"
    subprocess.run(
        [sys.executable, "-m", "app.cli", "db", "upgrade"],
        env=env,
        check=True,
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
    )
    log = (tmp_path / "signaling.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "signaling", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                ws = connect(f"ws://127.0.0.1:{port}/ws", open_timeout=5)
                break
            except OSError:
                assert proc.poll() is None
                assert time.monotonic() < deadline
                time.sleep(0.1)
        with ws:
            ws.send(json.dumps({"type": "ping", "nonce": "1"}))
            proc.send_signal(signal.SIGTERM)
            code = None
            try:
                while True:
                    ws.recv(timeout=20)
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
        assert code == 1012  # "service restart": clients reconnect elsewhere
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
