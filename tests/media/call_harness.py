"""Helpers for the call tests: tokens, servers and peer processes in a namespace.

Everything here runs inside the test's private network namespace: processes
are started with ``ip netns exec`` and talk on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.core.clock import OffsetClock
from app.core.tokens import Purpose, Tokens
from media.loopback import NetworkNamespace

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("peer_worker.py")
NODE = Path(__file__).with_name("signaling_node.py")
SECRET = "media-tests-secret"  # a throwaway key for the tokens of these tests
TIMEOUT = 20.0


def join_token(
    room: str, role: str, pid: str, *, secret: str = SECRET, now: datetime | None = None
) -> str:
    """Valid from a minute before ``now`` (the signaling node's time) for an hour."""
    now = now or datetime.now(UTC)
    return Tokens(secret).issue(
        Purpose.JOIN,
        {"room": room, "role": role, "pid": pid, "name": f"test {role}"},
        not_before=now - timedelta(minutes=1),
        expires=now + timedelta(hours=1),
    )


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


class Process:
    """A subprocess in the namespace whose stderr is kept for failure messages."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process) -> None:
        self.name = name
        self.proc = proc
        self.stderr = bytearray()
        self._drain = asyncio.create_task(self._collect())

    @classmethod
    async def start(
        cls,
        netns: NetworkNamespace,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        stdin: bool = False,
        stdout: bool = False,
    ) -> Process:
        proc = await asyncio.create_subprocess_exec(
            *netns.command(argv),
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if stdout else asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=env or child_env(),
            cwd=ROOT,
        )
        return cls(name, proc)

    async def _collect(self) -> None:
        assert self.proc.stderr is not None
        while chunk := await self.proc.stderr.read(65536):
            self.stderr += chunk
            del self.stderr[: max(0, len(self.stderr) - 200_000)]

    def tail(self, lines: int = 40) -> str:
        text = self.stderr.decode(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def kill(self) -> None:
        """SIGKILL: no clean-up, like a crashed node."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.kill()
                await self.proc.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._drain, 5)


class RemotePeer:
    """A call participant in its own process (tests/media/peer_worker.py)."""

    def __init__(self, process: Process) -> None:
        self.process = process
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()

    @classmethod
    async def start(
        cls, netns: NetworkNamespace, name: str, *, room: str, token: str, urls: Sequence[str]
    ) -> RemotePeer:
        argv = [sys.executable, str(WORKER), "--room", room, "--token", token]
        for url in urls:
            argv += ["--url", url]
        return cls(await Process.start(netns, name, argv, stdin=True, stdout=True))

    async def call(self, cmd: str, *, wait: float = TIMEOUT, **args: Any) -> dict[str, Any]:
        """Run one command in the worker and return its result (within ``wait`` seconds)."""
        proc = self.process.proc
        assert proc.stdin is not None
        assert proc.stdout is not None
        async with self._lock:
            request_id = next(self._ids)
            proc.stdin.write(json.dumps({"id": request_id, "cmd": cmd, **args}).encode() + b"\n")
            await proc.stdin.drain()
            try:
                line = await asyncio.wait_for(proc.stdout.readline(), wait)
            except TimeoutError:
                raise AssertionError(
                    f"{self.process.name}: {cmd} timed out; worker log:\n{self.process.tail()}"
                ) from None
        if not line:
            raise AssertionError(
                f"{self.process.name} exited during {cmd}; worker log:\n{self.process.tail()}"
            )
        reply = json.loads(line)
        assert reply["id"] == request_id
        if "error" in reply:
            raise AssertionError(
                f"{self.process.name}: {cmd} failed: {reply['error']}\n{self.process.tail()}"
            )
        result: dict[str, Any] = reply["ok"]
        return result

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.call("leave"), 5)
        await self.process.stop()


class SignalingNode:
    """A signaling node in its own process (tests/media/signaling_node.py)."""

    def __init__(self, process: Process, name: str, url: str) -> None:
        self.process = process
        self.name = name
        self.url = url

    @classmethod
    async def start(
        cls,
        netns: NetworkNamespace,
        name: str,
        *,
        redis_url: str | None = None,
        node_timeout: float | None = None,
        database_url: str | None = None,
        clock: OffsetClock | None = None,
    ) -> SignalingNode:
        """A node on the system clock, or on ``clock`` (read alike in both processes)."""
        argv = [sys.executable, str(NODE), "--node", name, "--secret", SECRET]
        if clock is not None:
            argv += ["--clock-start", clock.start.isoformat(), "--clock-since", repr(clock.since)]
        if redis_url:
            argv += ["--redis-url", redis_url]
        if node_timeout is not None:
            argv += ["--node-timeout", str(node_timeout)]
        if database_url:
            argv += ["--database-url", database_url]
        process = await Process.start(netns, f"node {name}", argv, stdout=True)
        assert process.proc.stdout is not None
        try:
            line = await asyncio.wait_for(process.proc.stdout.readline(), TIMEOUT)
        except TimeoutError:
            line = b""
        if not line:
            await process.stop()
            raise AssertionError(f"signaling node {name} did not start:\n{process.tail()}")
        return cls(process, name, json.loads(line)["url"])


async def start_redis(netns: NetworkNamespace, port: int = 6379) -> tuple[Process, str]:
    """A private redis-server in the namespace (its own 127.0.0.1, so the port is free)."""
    argv = [
        "redis-server",
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "yes",
    ]
    process = await Process.start(netns, "redis", argv)
    url = f"redis://127.0.0.1:{port}/0"
    await wait_for_port(port, process)
    return process, url


async def wait_for_port(port: int, process: Process, *, within: float = TIMEOUT) -> None:
    """Wait until something accepts on 127.0.0.1:``port`` (the caller runs in the namespace)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if process.proc.returncode is not None:
                raise AssertionError(f"{process.name} exited:\n{process.tail()}") from None
            if loop.time() > deadline:
                raise AssertionError(f"{process.name} not listening:\n{process.tail()}") from None
            await asyncio.sleep(0.05)
        else:
            writer.close()
            await writer.wait_closed()
            return
