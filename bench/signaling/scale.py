"""Signaling at several sizes, madoguchi vs the PeerJS server, in one side-by-side run.

Run (PeerJS from the committed lock file first; the machine allows 20,000 open
files in all, and 8,000 connections take 8,000 descriptors on each side):

    npm ci --prefix bench/signaling
    ulimit -n 20000
    .venv/bin/python bench/signaling/scale.py --sizes 2000,5000,8000 --rate 4000

For each size (connections held per server) and each server, alternating which
goes first: start the server as its own process on 127.0.0.1, open size/2
pairs from ``--generators`` load-generator processes (``loadgen.py``: bare
asyncio protocols, so the generator is not the bottleneck), then offer
``--rate`` messages a second in total for ``--warmup`` + ``--duration``
seconds, open loop (each pair sends at fixed intervals whether or not its
previous message has arrived), alternating direction: 1 in 12 a 4 KB offer,
the rest ICE candidates (what a call's signaling is made of). madoguchi is
``madoguchi signaling`` as a user runs it (the CLI, its default
configuration, call events to an SQLite file); PeerJS is
``peerjs_server.cjs``. Reported per server and size: connections held,
offered and relayed msg/s, latency p50/p99 (sender to receiver, messages
sent in the measured window), server CPU µs per relayed message
(utime+stime from /proc/PID/stat over the window) and RSS KiB per held
connection ((RSS holding them - RSS before) / held), with the ratios
madoguchi/PeerJS. Exit status 2 when madoguchi is above PeerJS on any of
CPU per message, p99 or RSS per connection at any size.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from load import Madoguchi, PeerJS, Target, cpu_seconds, rss_bytes, stop
from load import Result as _Result

from app.core.tokens import Tokens  # importable once `load` put the repository on the path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


@dataclass
class Result(_Result):
    offered: int = 0  # messages sent in the measured window


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


def spawn_workers(
    target: Target, pairs: int, generators: int, rate: float, warmup: float, duration: float
) -> list[subprocess.Popen[str]]:
    """Start the load generator processes, each with its share of pairs and rate."""
    secret = getattr(target, "secret", "")
    share = [pairs // generators + (1 if n < pairs % generators else 0) for n in range(generators)]
    procs, first = [], 0
    for count in share:
        cmd = [
            sys.executable, str(HERE / "loadgen.py"), "--target", target.name,
            "--port", str(target.port), "--secret", secret, "--first", str(first),
            "--count", str(count), "--rate", str(rate * count / pairs),
            "--warmup", str(warmup), "--duration", str(duration),
        ]  # fmt: skip
        procs.append(
            subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        )
        first += count
    return procs


def read_json(proc: subprocess.Popen[str]) -> dict[str, Any]:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError("a load generator exited early")
    value: dict[str, Any] = json.loads(line)
    return value


def tell(proc: subprocess.Popen[str], line: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()


def sleep_until(wall: float) -> None:
    time.sleep(max(0.0, wall - time.time()))


def measure(
    cls: type[Target],
    connections: int,
    warmup: float,
    duration: float,
    rate: float,
    generators: int,
) -> Result:
    target = cls()
    workers: list[subprocess.Popen[str]] = []
    try:
        pid = target.proc.pid
        time.sleep(1.0)  # settled after start-up
        rss_before = rss_bytes(pid)
        workers = spawn_workers(target, connections // 2, generators, rate, warmup, duration)
        ready = [read_json(w) for w in workers]
        opened = sum(r["ready"] for r in ready)
        if opened < connections // 2:
            print(f"  ({target.name}: {opened:,} of {connections // 2:,} pairs opened)", flush=True)
        time.sleep(2.0)
        rss_held = rss_bytes(pid)
        start = time.time() + 1.0
        for w in workers:
            tell(w, f"go {start}")
        sleep_until(start + warmup)
        cpu0 = cpu_seconds(pid)
        sleep_until(start + warmup + duration)
        cpu1 = cpu_seconds(pid)
        result = Result(target.name)
        result.seconds = duration
        result.cpu = cpu1 - cpu0
        result.rss_per_conn = (rss_held - rss_before) / (2 * opened) if opened else 0.0
        for w in workers:
            done = read_json(w)
            result.messages += done["messages"]
            result.offered += done["offered"]
            result.errors += done["errors"]
            result.held += done["held"]
            result.latencies.extend(done["latencies"])
        for w in workers:
            tell(w, "stop")
        return result
    finally:
        for w in workers:
            try:
                w.wait(timeout=30)
            except subprocess.TimeoutExpired:
                w.kill()
        stop(target)


def row(size: int, r: Result) -> str:
    cpu_us = r.cpu / r.messages * 1e6 if r.messages else float("nan")
    return (
        f"| {size:,} | {r.name} | {r.held:,} | {r.offered / r.seconds:,.0f} | "
        f"{r.rate:,.0f} | {r.pct(50):.2f} | "
        f"{r.pct(99):.2f} | {cpu_us:.1f} | {r.rss_per_conn / 1024:.1f} | {r.errors} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="2000,5000,8000", help="connections per server")
    parser.add_argument("--rate", type=float, default=4000.0, help="offered msg/s in total")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--only", choices=["madoguchi", "peerjs"])
    parser.add_argument(
        "--generators", type=int, default=3, help="load generator processes (loadgen.py)"
    )
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
    print("| connections | server | held | offered msg/s | relayed msg/s | p50 ms | p99 ms "
          "| CPU µs/msg | RSS KiB/conn | errors |")  # fmt: skip
    print("|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    met = True
    for n, size in enumerate(sizes):
        results: dict[str, Result] = {}
        for cls in targets if n % 2 == 0 else targets[::-1]:
            results[cls.name] = measure(
                cls, size, args.warmup, args.duration, args.rate, args.generators
            )
            print(row(size, results[cls.name]), flush=True)
        if len(results) == 2:
            m, p = results["madoguchi"], results["peerjs"]
            cpu = (m.cpu / m.messages) / (p.cpu / p.messages)
            p99 = m.pct(99) / p.pct(99)
            rss = m.rss_per_conn / p.rss_per_conn
            print(f"|  | ratio madoguchi/PeerJS | | | | {m.pct(50) / p.pct(50):.2f} | "
                  f"{p99:.2f} | {cpu:.2f} | {rss:.2f} | |", flush=True)  # fmt: skip
            met = met and cpu <= 1 and p99 <= 1 and rss <= 1 and m.held == size
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0 if met else 2


if __name__ == "__main__":
    raise SystemExit(main())
