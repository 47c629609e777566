"""Signaling cluster load: 2 nodes + a private Redis, 4,000 connections, 2,000 rooms.

Run: .venv/bin/python bench/signaling_cluster.py [--rooms 2000] [--rate 1000] [--duration 300]

Starts its own ``redis-server`` on a free 127.0.0.1 port (never the shared
one) and two madoguchi signaling nodes as separate processes
(``bench/signaling/madoguchi_server.py SECRET REDIS_URL``) joined by it. Each
room has a resident on one node and staff on the other, so every relayed
message crosses Redis pub/sub. After all connections are joined, every room
relays offer/answer/candidate messages (``bench/signaling/load.py`` payloads,
2 KB SDPs) alternating direction at a fixed total ``--rate`` for
``--duration`` seconds. Reported: connections held at the end, relay latency
p50/p99 (sender to receiver, across nodes), RSS per connection on the nodes,
CPU seconds per relayed message (utime+stime of both nodes and of Redis from
/proc/PID/stat over the window) and errors (failed joins, closed sockets,
relays not answered within 10 s, unreadable frames). Exit status 2 on any error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "signaling"))
sys.path.insert(0, str(HERE.parent))

from load import Madoguchi, cpu_seconds, rss_bytes, start_process  # noqa: E402
from websockets.asyncio.client import ClientConnection  # noqa: E402
from websockets.exceptions import ConnectionClosed, WebSocketException  # noqa: E402
from websockets.protocol import State  # noqa: E402

ROOT = HERE.parent
RELAY_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def raise_fd_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        new = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))  # children inherit it
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    messages: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    other_frames: int = 0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


class Node(Madoguchi):
    """One cluster node: the bench's Madoguchi target, started with a Redis URL."""

    def __init__(self, secret: str, redis_url: str) -> None:
        from app.core.tokens import Tokens

        self.secret = secret
        self.tokens = Tokens(secret)
        py = str(ROOT / ".venv" / "bin" / "python")
        script = str(HERE / "signaling" / "madoguchi_server.py")
        self.proc, self.port = start_process([py, script, secret, redis_url])


async def open_room(
    nodes: list[Node], i: int, stats: Stats
) -> tuple[ClientConnection, ClientConnection, str, str] | None:
    resident_node, staff_node = nodes[i % 2], nodes[(i + 1) % 2]
    room = f"cluster-{i}"
    try:
        b = await resident_node._join(room, "resident", f"r{i}")
        a = await staff_node._join(room, "staff", f"s{i}")
        # The resident hears about staff (across Redis) before relaying starts.
        seen: set[str] = set()
        while not {"peer-joined", "room-state"} <= seen:
            seen.add(json.loads(await asyncio.wait_for(b.recv(), 30))["type"])
    except (OSError, RuntimeError, TimeoutError, WebSocketException):
        stats.error("join")
        return None
    return a, b, f"s{i}", f"r{i}"


async def relay(
    pair: tuple[ClientConnection, ClientConnection, str, str],
    node: Node,
    stats: Stats,
    interval: float,
    t_measure: float,
    t_end: float,
) -> None:
    a, b, ida, idb = pair
    loop = asyncio.get_running_loop()
    seq = 0
    next_at = loop.time() + random.random() * interval
    while loop.time() < t_end:
        await asyncio.sleep(max(0.0, next_at - loop.time()))
        next_at += interval
        sender, receiver, dst, src = (a, b, idb, ida) if seq % 2 == 0 else (b, a, ida, idb)
        seq += 1
        try:
            await sender.send(node.message(seq % 3, src, dst, time.perf_counter_ns()))
            raw = str(await asyncio.wait_for(receiver.recv(), RELAY_TIMEOUT))
        except ConnectionClosed:
            stats.error("closed")
            return
        except TimeoutError:
            stats.error("relay-timeout")
            return
        # Presence frames (a peer seen across nodes a moment late) are not relays.
        while '"sdp":"' not in raw and "candidate:" not in raw:
            stats.other_frames += 1
            try:
                raw = str(await asyncio.wait_for(receiver.recv(), RELAY_TIMEOUT))
            except (ConnectionClosed, TimeoutError):
                stats.error("relay-timeout")
                return
        now_ns = time.perf_counter_ns()
        try:
            stamp = node.stamp_of(raw)
        except (KeyError, ValueError, IndexError):
            stats.error("unreadable")
            continue
        if t_measure <= loop.time() < t_end:
            stats.messages += 1
            stats.latencies.append((now_ns - stamp) / 1e6)


def start_cluster(rooms: int) -> tuple[subprocess.Popen[bytes], list[Node]]:
    limit = raise_fd_limit(rooms * 2 + 1024)
    print(f"file descriptors: soft limit {limit}")
    redis_port = free_port()
    redis = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(redis_port),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", redis_port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    secret = secrets.token_urlsafe(32)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    return redis, [Node(secret, redis_url), Node(secret, redis_url)]


def stop_cluster(redis: subprocess.Popen[bytes], nodes: list[Node]) -> None:
    for n in nodes:
        n.proc.terminate()
        n.proc.wait(30)
    redis.terminate()
    redis.wait(30)


async def run(args: argparse.Namespace, redis: subprocess.Popen[bytes], nodes: list[Node]) -> int:
    stats = Stats()
    conns: list[ClientConnection] = []
    try:
        pids = [n.proc.pid for n in nodes]
        rss0 = [rss_bytes(p) for p in pids]
        t0 = time.monotonic()
        sem = asyncio.Semaphore(100)

        async def opener(i: int) -> tuple[ClientConnection, ClientConnection, str, str] | None:
            async with sem:
                return await open_room(nodes, i, stats)

        opened = [p for p in await asyncio.gather(*(opener(i) for i in range(args.rooms))) if p]
        conns = [c for p in opened for c in p[:2]]
        print(
            f"joined {len(conns)} connections in {len(opened)} rooms "
            f"in {time.monotonic() - t0:.1f} s"
        )
        rss1 = [rss_bytes(p) for p in pids]
        per_conn = (sum(rss1) - sum(rss0)) / max(len(conns), 1)

        loop = asyncio.get_running_loop()
        t_measure = loop.time() + args.warmup
        t_end = t_measure + args.duration
        interval = len(opened) / args.rate
        cpu: dict[str, list[float]] = {}

        async def cpu_marks() -> None:
            await asyncio.sleep(args.warmup)
            cpu["start"] = [cpu_seconds(p) for p in (*pids, redis.pid)]
            await asyncio.sleep(args.duration)
            cpu["end"] = [cpu_seconds(p) for p in (*pids, redis.pid)]

        await asyncio.gather(
            cpu_marks(),
            *(relay(p, nodes[0], stats, interval, t_measure, t_end) for p in opened),
        )
        held = sum(1 for ws in conns if ws.state is State.OPEN)
        spent = [e - s for s, e in zip(cpu["start"], cpu["end"], strict=True)]
        node_cpu, redis_cpu = sum(spent[:2]), spent[2]
        msgs = max(stats.messages, 1)
        lat = stats.latencies
        q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else [0.0] * 99
        errors = sum(stats.errors.values())
        print(
            f"rooms {args.rooms}, connections held {held}/{args.rooms * 2}, "
            f"window {args.duration:.0f} s at {args.rate:.0f} msg/s offered"
        )
        print(
            f"relayed {stats.messages} messages ({stats.messages / args.duration:.0f}/s), "
            f"latency p50 {q[49]:.2f} ms, p99 {q[98]:.2f} ms, max {max(lat, default=0):.2f} ms"
        )
        print(f"memory: {per_conn / 1024:.1f} KiB RSS per connection (both nodes)")
        print(
            f"CPU per message: nodes {node_cpu / msgs * 1e6:.0f} µs, "
            f"redis {redis_cpu / msgs * 1e6:.0f} µs "
            f"(nodes {node_cpu:.1f} s, redis {redis_cpu:.1f} s over the window)"
        )
        print(f"errors: {errors} {stats.errors or ''} (presence frames seen: {stats.other_frames})")
        return 0 if errors == 0 and held == args.rooms * 2 else 2
    finally:
        await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rooms", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=1000.0, help="messages/s in total")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=300.0, help="measured seconds")
    args = parser.parse_args()
    redis, nodes = start_cluster(args.rooms)
    try:
        return asyncio.run(run(args, redis, nodes))
    finally:
        stop_cluster(redis, nodes)


if __name__ == "__main__":
    raise SystemExit(main())
