"""Signaling at several sizes, madoguchi vs the PeerJS server, in one side-by-side run.

Run (PeerJS from the committed lock file first; the machine allows 20,000 open
files in all, and 8,000 connections take 8,000 descriptors on each side):

    npm ci --prefix bench/signaling
    ulimit -n 20000
    .venv/bin/python bench/signaling/scale.py --sizes 2000,5000,8000 --rate 4000

For each size (connections held per server) and each server, alternating which
goes first: start the server as its own process on 127.0.0.1, open size/2
pairs, then offer ``--rate`` messages a second in total for ``--warmup`` +
``--duration`` seconds, one message in flight per pair, alternating direction:
1 in 12 a 4 KB offer, the rest ICE candidates (what a call's signaling is
made of). madoguchi is ``madoguchi signaling`` as a user runs it (the CLI, its
default configuration, call events to an SQLite file); PeerJS is
``peerjs_server.cjs``. Reported per server and size: connections held, relayed
msg/s, latency p50/p99 (sender to receiver, in the measured window), server
CPU µs per relayed message (utime+stime from /proc/PID/stat over the window)
and RSS KiB per held connection ((RSS holding them - RSS before) / held), with
the ratios madoguchi/PeerJS. Exit status 2 when madoguchi is above PeerJS on
any of CPU per message, p99 or RSS per connection at any size.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from load import (
    SDP,
    Madoguchi,
    PeerJS,
    Result,
    Target,
    cpu_seconds,
    gather_limited,
    rss_bytes,
    stop,
)
from websockets.asyncio.client import ClientConnection
from websockets.protocol import State

from app.core.tokens import Tokens  # importable once `load` put the repository on the path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SDP_4K = (SDP * (4096 // len(SDP) + 1))[:4096]  # a 4 KB offer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class MadoguchiCli(Madoguchi):
    """``madoguchi signaling`` with its defaults, as a user starts it."""

    name = "madoguchi"

    def __init__(self) -> None:
        self.secret = secrets.token_urlsafe(32)
        self.tokens = Tokens(self.secret)
        self.port = free_port()
        self._db = tempfile.NamedTemporaryFile(suffix=".db", delete=False)  # noqa: SIM115
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "MADOGUCHI_SECRET_KEY": self.secret,
            "MADOGUCHI_DATABASE_URL": f"sqlite:///{self._db.name}",
        }
        cmd = [sys.executable, "-m", "app.cli", "signaling", "--port", str(self.port)]
        log = open(os.environ.get("BENCH_SERVER_LOG", os.devnull), "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stderr=log)  # type: ignore[assignment]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            self.proc.kill()
            raise RuntimeError("madoguchi signaling did not start")


async def fixed_rate(
    target: Target,
    opened: list[tuple[ClientConnection, ClientConnection, str, str]],
    warmup: float,
    duration: float,
    rate: float,
) -> Result:
    result = Result(target.name)
    pid = target.proc.pid
    loop = asyncio.get_running_loop()
    t_measure = loop.time() + warmup
    t_end = t_measure + duration
    window: dict[str, float] = {}
    interval = len(opened) / rate

    async def relay(a: ClientConnection, b: ClientConnection, ida: str, idb: str) -> None:
        seq = random.randrange(12)
        next_at = loop.time() + random.random() * interval
        while loop.time() < t_end:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            next_at += interval
            sender, receiver, dst, src = (a, b, idb, ida) if seq % 2 == 0 else (b, a, ida, idb)
            stamp = time.perf_counter_ns()
            if seq % 12 == 0:
                text = target.message(0, src, dst, stamp, SDP_4K)
            else:
                text = target.message(2, src, dst, stamp)
            await sender.send(text)
            raw = await receiver.recv()
            now_ns = time.perf_counter_ns()
            try:
                sent_at = target.stamp_of(str(raw))
            except (KeyError, ValueError, IndexError):
                result.errors += 1
                continue
            if t_measure <= loop.time() < t_end:
                result.messages += 1
                result.latencies.append((now_ns - sent_at) / 1e6)
            seq += 1

    async def cpu_marks() -> None:
        await asyncio.sleep(warmup)
        window["cpu0"] = cpu_seconds(pid)
        await asyncio.sleep(duration)
        window["cpu1"] = cpu_seconds(pid)

    await asyncio.gather(cpu_marks(), *(relay(*p) for p in opened))
    result.seconds = duration
    result.cpu = window["cpu1"] - window["cpu0"]
    return result


async def measure(
    cls: type[Target], connections: int, warmup: float, duration: float, rate: float
) -> Result:
    target = cls()
    try:
        pid = target.proc.pid
        await asyncio.sleep(1.0)  # settled after start-up
        rss_before = rss_bytes(pid)
        opened = await gather_limited(
            [lambda i=i: target.open_pair(i) for i in range(connections // 2)], 100
        )
        pairs = [p for p in opened if isinstance(p, tuple)]
        conns = [c for p in pairs for c in p[:2]]
        await asyncio.sleep(2.0)
        rss_held = rss_bytes(pid)
        result = await fixed_rate(target, pairs, warmup, duration, rate)
        result.rss_per_conn = (rss_held - rss_before) / len(conns)
        result.held = sum(1 for ws in conns if ws.state is State.OPEN)
        await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)
        return result
    finally:
        stop(target)


def row(size: int, r: Result) -> str:
    cpu_us = r.cpu / r.messages * 1e6 if r.messages else float("nan")
    return (
        f"| {size:,} | {r.name} | {r.held:,} | {r.rate:,.0f} | {r.pct(50):.2f} | "
        f"{r.pct(99):.2f} | {cpu_us:.1f} | {r.rss_per_conn / 1024:.1f} | {r.errors} |"
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="2000,5000,8000", help="connections per server")
    parser.add_argument("--rate", type=float, default=4000.0, help="offered msg/s in total")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--only", choices=["madoguchi", "peerjs"])
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"sizes {sizes}; {args.rate:.0f} msg/s offered (1 in 12 a 4 KB offer), warm-up "
        f"{args.warmup:.0f} s + {args.duration:.0f} s; {os.cpu_count()} CPUs; "
        f"load average {os.getloadavg()[0]:.1f}; open files {os.sysconf('SC_OPEN_MAX')}"
    )
    targets: list[type[Target]] = [MadoguchiCli, PeerJS]
    if args.only:
        targets = [t for t in targets if t.name == args.only]
    print("| connections | server | held | msg/s | p50 ms | p99 ms | CPU µs/msg "
          "| RSS KiB/conn | errors |")  # fmt: skip
    print("|--:|---|--:|--:|--:|--:|--:|--:|--:|")
    met = True
    for n, size in enumerate(sizes):
        results: dict[str, Result] = {}
        for cls in targets if n % 2 == 0 else targets[::-1]:
            results[cls.name] = await measure(cls, size, args.warmup, args.duration, args.rate)
            print(row(size, results[cls.name]), flush=True)
        if len(results) == 2:
            m, p = results["madoguchi"], results["peerjs"]
            cpu = (m.cpu / m.messages) / (p.cpu / p.messages)
            p99 = m.pct(99) / p.pct(99)
            rss = m.rss_per_conn / p.rss_per_conn
            print(f"|  | ratio madoguchi/PeerJS | | | {m.pct(50) / p.pct(50):.2f} | "
                  f"{p99:.2f} | {cpu:.2f} | {rss:.2f} | |", flush=True)  # fmt: skip
            met = met and cpu <= 1 and p99 <= 1 and rss <= 1 and m.held == size
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0 if met else 2


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
