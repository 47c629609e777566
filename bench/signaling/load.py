"""Signaling load: madoguchi vs the PeerJS server, same load, same run, loopback only.

Run: .venv/bin/python bench/signaling/load.py [--pairs 1000] [--rate 1000] [--rounds 3]
(first: npm install --prefix bench/signaling   # installs `peer` from package-lock.json)

For each server (started as its own process on 127.0.0.1):

1. opens ``--pairs`` pairs of WebSocket clients (2 x pairs connections held):
   madoguchi: a resident and a staff member joined to room ``bench-<i>`` with
   real signed join tokens; PeerJS: two peers ``a-<i>``/``b-<i>``;
2. every pair relays offer (2 KB SDP) -> answer (2 KB) -> candidate (~150 B)
   -> ..., alternating direction, one message in flight per pair; the
   receiving client measures the relay latency from a timestamp in the
   payload. Two phases of ``--warmup`` + ``--duration`` seconds each: at a
   fixed total ``--rate`` (latency under a realistic load), then a closed
   loop (peak throughput; its latency is mostly queueing);
3. reports connections held (still open at the end), relayed messages per
   second, latency p50/p99 in the measured window, server CPU seconds per
   message (utime+stime from /proc/<pid>/stat over the window) and server RSS
   per connection ((RSS with all connections - RSS before) / connections).

The servers alternate for ``--rounds`` rounds and the medians are reported
(this machine is shared; single runs swing), with the ratios madoguchi/PeerJS.
The bench raises madoguchi's per-connection rate limit (PeerJS has none);
all else is the default configuration.
The load generator is one Python process and shares the 2 cores: it can be
the bottleneck for the faster server, so CPU per message is the fairest
efficiency figure. Exit status 2 when a target (peak throughput >= PeerJS,
p99 at the fixed rate no worse, all connections held) is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect
from websockets.protocol import State

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from app.core.tokens import Purpose, Tokens  # noqa: E402

SDP = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n" + "a=bench-padding\r\n" * 110
CAND = "1 1 udp 2122260223 192.0.2.7 54400 typ host generation 0 ufrag Abcd network-id 1"
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    name: str
    held: int = 0
    messages: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    cpu: float = 0.0
    rss_per_conn: float = 0.0
    errors: int = 0
    p50: float = float("nan")
    p99: float = float("nan")

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(q) - 1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def start_process(cmd: list[str]) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"{cmd[0]} did not start: {line!r}")
    return proc, int(line.split()[1])


# ------------------------------------------------------------------- protocols


def _stamp(raw: str) -> int:
    """The send timestamp: first token of the SDP or after ``candidate:``.

    Found by string search, not json.loads, to keep the load generator cheap
    (it shares the CPUs with the server under test); same code for both.
    """
    i = raw.find('"sdp":"')
    start = i + 7 if i >= 0 else raw.index("candidate:") + 10
    return int(raw[start : raw.index(" ", start)])


class Target:
    name = ""
    proc: subprocess.Popen[str]
    port: int

    async def open_pair(self, i: int) -> tuple[ClientConnection, ClientConnection, str, str]:
        raise NotImplementedError

    def message(self, kind: int, src: str, dst: str, stamp: int, sdp: str = SDP) -> str:
        raise NotImplementedError

    @staticmethod
    def stamp_of(raw: str) -> int:
        raise NotImplementedError


async def _connect(url: str) -> ClientConnection:
    return await connect(url, compression=None, max_size=2**20, open_timeout=60)


class Madoguchi(Target):
    name = "madoguchi"

    def __init__(self) -> None:
        self.secret = secrets.token_urlsafe(32)
        self.tokens = Tokens(self.secret)
        py = str(ROOT / ".venv" / "bin" / "python")
        script = os.environ.get("BENCH_SERVER_SCRIPT", str(HERE / "madoguchi_server.py"))
        self.proc, self.port = start_process([py, script, self.secret])

    def _token(self, room: str, role: str, pid: str) -> str:
        now = datetime.now(UTC)
        claims = {"room": room, "role": role, "pid": pid, "name": "bench"}
        return self.tokens.issue(
            Purpose.JOIN,
            claims,
            not_before=now - timedelta(hours=1),
            expires=now + timedelta(hours=2),
        )

    async def _join(self, room: str, role: str, pid: str) -> ClientConnection:
        ws = await _connect(f"ws://127.0.0.1:{self.port}/ws")
        join = {"type": "join", "v": 1, "room": room, "token": self._token(room, role, pid)}
        await ws.send(json.dumps(join))
        reply = json.loads(await ws.recv())
        if reply["type"] != "joined":
            raise RuntimeError(f"join refused: {reply}")
        return ws

    async def open_pair(self, i: int) -> tuple[ClientConnection, ClientConnection, str, str]:
        room = f"bench-{i}"
        b = await self._join(room, "resident", f"r{i}")
        a = await self._join(room, "staff", f"s{i}")
        for expected in ("peer-joined", "room-state"):
            if json.loads(await b.recv())["type"] != expected:
                raise RuntimeError("unexpected frame while pairing")
        return a, b, f"s{i}", f"r{i}"

    def message(self, kind: int, src: str, dst: str, stamp: int, sdp: str = SDP) -> str:
        if kind == 2:
            cand = {"candidate": f"candidate:{stamp} {CAND}", "sdpMid": "0", "sdpMLineIndex": 0}
            return json.dumps({"type": "candidate", "to": dst, "candidate": cand})
        return json.dumps({"type": ("offer", "answer")[kind], "to": dst, "sdp": f"{stamp} {sdp}"})

    stamp_of = staticmethod(lambda raw: _stamp(raw))


class PeerJS(Target):
    name = "peerjs"

    def __init__(self) -> None:
        script = HERE / "peerjs_server.cjs"
        if not (HERE / "node_modules" / "peer").exists():
            raise SystemExit("PeerJS missing: run `npm install --prefix bench/signaling` first")
        self.proc, self.port = start_process(["node", str(script), "0"])

    async def _open(self, pid: str) -> ClientConnection:
        url = f"ws://127.0.0.1:{self.port}/peerjs?key=peerjs&id={pid}&token=t{pid}"
        ws = await _connect(url)
        if json.loads(await ws.recv())["type"] != "OPEN":
            raise RuntimeError("peerjs did not open")
        return ws

    async def open_pair(self, i: int) -> tuple[ClientConnection, ClientConnection, str, str]:
        return await self._open(f"a-{i}"), await self._open(f"b-{i}"), f"a-{i}", f"b-{i}"

    def message(self, kind: int, src: str, dst: str, stamp: int, sdp: str = SDP) -> str:
        if kind == 2:
            cand = {"candidate": f"candidate:{stamp} {CAND}", "sdpMid": "0", "sdpMLineIndex": 0}
            payload: dict[str, object] = {
                "candidate": cand,
                "type": "media",
                "connectionId": "mc_1",
            }
            return json.dumps({"type": "CANDIDATE", "dst": dst, "payload": payload})
        kind_name = ("offer", "answer")[kind]
        payload = {"sdp": {"type": kind_name, "sdp": f"{stamp} {sdp}"}, "type": "media"}
        payload["connectionId"] = "mc_1"
        return json.dumps({"type": kind_name.upper(), "dst": dst, "payload": payload})

    stamp_of = staticmethod(lambda raw: _stamp(raw))


# ------------------------------------------------------------------------ run


async def gather_limited(
    factories: list[Callable[[], Awaitable[object]]], limit: int
) -> list[object]:
    sem = asyncio.Semaphore(limit)

    async def run(factory: Callable[[], Awaitable[object]]) -> object:
        async with sem:
            return await factory()

    return await asyncio.gather(*(run(f) for f in factories))


async def relay_phase(
    target: Target,
    opened: list[tuple[ClientConnection, ClientConnection, str, str]],
    warmup: float,
    duration: float,
    rate: float | None,
) -> Result:
    """Relay for warmup + duration; ``rate`` msg/s in total, or closed loop if None."""
    result = Result(target.name)
    pid = target.proc.pid
    loop = asyncio.get_running_loop()
    t_measure = loop.time() + warmup
    t_end = t_measure + duration
    window: dict[str, float] = {}
    interval = len(opened) / rate if rate else None

    async def relay(a: ClientConnection, b: ClientConnection, ida: str, idb: str) -> None:
        seq = 0
        next_at = loop.time() + (random.random() * interval if interval else 0.0)
        while loop.time() < t_end:
            if interval:
                await asyncio.sleep(max(0.0, next_at - loop.time()))
                next_at += interval
            sender, receiver, dst, src = (a, b, idb, ida) if seq % 2 == 0 else (b, a, ida, idb)
            await sender.send(target.message(seq % 3, src, dst, time.perf_counter_ns()))
            raw = await receiver.recv()
            now_ns = time.perf_counter_ns()
            try:
                stamp = target.stamp_of(str(raw))
            except (KeyError, ValueError, IndexError):
                result.errors += 1
                continue
            if t_measure <= loop.time() < t_end:
                result.messages += 1
                result.latencies.append((now_ns - stamp) / 1e6)
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
    cls: type[Target], pairs: int, warmup: float, duration: float, rate: float
) -> tuple[Result, Result]:
    """One server: hold 2 x pairs connections, a fixed-rate phase, a closed-loop phase."""
    target = cls()
    try:
        pid = target.proc.pid
        rss_before = rss_bytes(pid)
        opened = await gather_limited([lambda i=i: target.open_pair(i) for i in range(pairs)], 100)
        pairs_open = [p for p in opened if isinstance(p, tuple)]
        conns = [c for p in pairs_open for c in p[:2]]
        rss_per_conn = (rss_bytes(pid) - rss_before) / len(conns)
        fixed = await relay_phase(target, pairs_open, warmup, duration, rate)
        peak = await relay_phase(target, pairs_open, warmup, duration, None)
        for r in (fixed, peak):
            r.rss_per_conn = rss_per_conn
            r.held = sum(1 for ws in conns if ws.state is State.OPEN)
        await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)
        return fixed, peak
    finally:
        stop(target)


def stop(target: Target) -> None:
    target.proc.terminate()
    try:
        target.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        target.proc.kill()


def median_result(results: list[Result]) -> Result:
    """Per-metric medians over rounds (each metric on its own)."""
    out = Result(results[0].name)
    out.held = min(r.held for r in results)
    out.seconds = 1.0
    out.messages = round(statistics.median(r.rate for r in results))
    out.cpu = statistics.median(r.cpu / r.messages for r in results if r.messages) * out.messages
    out.rss_per_conn = statistics.median(r.rss_per_conn for r in results)
    out.errors = sum(r.errors for r in results)
    out.p50 = statistics.median(r.pct(50) for r in results)
    out.p99 = statistics.median(r.pct(99) for r in results)
    return out


def report(title: str, results: list[Result]) -> None:
    print(f"\n{title}")
    print(f"{'server':<10} {'held':>6} {'msg/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'CPU us/msg':>11} {'RSS KiB/conn':>13} {'errors':>7}")  # fmt: skip
    for r in results:
        cpu_us = r.cpu / r.messages * 1e6 if r.messages else float("nan")
        print(f"{r.name:<10} {r.held:>6} {r.rate:>9.0f} {r.p50:>8.2f} {r.p99:>8.2f} "
              f"{cpu_us:>11.1f} {r.rss_per_conn / 1024:>13.1f} {r.errors:>7}")  # fmt: skip
    if len(results) == 2:
        mado, peer = results
        print(f"ratios madoguchi/peerjs: throughput {mado.rate / peer.rate:.2f}, "
              f"p50 {mado.p50 / peer.p50:.2f}, p99 {mado.p99 / peer.p99:.2f}, "
              f"CPU/msg {(mado.cpu / mado.messages) / (peer.cpu / peer.messages):.2f}, "
              f"RSS/conn {mado.rss_per_conn / peer.rss_per_conn:.2f}")  # fmt: skip


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=1000.0, help="fixed-rate phase, msg/s")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians")
    parser.add_argument("--only", choices=["madoguchi", "peerjs"])
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(
        f"{args.pairs} pairs = {2 * args.pairs} connections per server; {args.rounds} rounds of "
        f"warm-up {args.warmup:.0f} s + {args.duration:.0f} s per phase; {os.cpu_count()} CPUs; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    targets = [c for c in (Madoguchi, PeerJS) if not args.only or c.name == args.only]
    fixed: dict[str, list[Result]] = {c.name: [] for c in targets}
    peak: dict[str, list[Result]] = {c.name: [] for c in targets}
    for n in range(args.rounds):
        for cls in targets if n % 2 == 0 else targets[::-1]:
            f, p = await measure(cls, args.pairs, args.warmup, args.duration, args.rate)
            fixed[cls.name].append(f)
            peak[cls.name].append(p)
            print(f"  round {n + 1} {cls.name}: {p.rate:.0f} msg/s peak, "
                  f"p99 {f.pct(99):.1f} ms at {args.rate:.0f} msg/s")  # fmt: skip
    fixed_m = [median_result(fixed[c.name]) for c in targets]
    peak_m = [median_result(peak[c.name]) for c in targets]
    report(f"Latency at a fixed {args.rate:.0f} msg/s (medians of {args.rounds} rounds)", fixed_m)
    report(f"Peak relay throughput, closed loop (medians of {args.rounds} rounds)", peak_m)
    if len(targets) < 2:
        return 0
    ok = (
        peak_m[0].rate >= peak_m[1].rate
        and fixed_m[0].p99 <= fixed_m[1].p99
        and peak_m[0].held == 2 * args.pairs
    )
    print("\ntargets (2000 held, peak throughput >= PeerJS, p99 at fixed rate no worse):",
          "MET" if ok else "MISSED")  # fmt: skip
    return 0 if ok else 2


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
