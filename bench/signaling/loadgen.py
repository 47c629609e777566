"""A light WebSocket load generator for ``scale.py``: one worker process of several.

Why not the ``websockets`` client: at 8,000 connections one Python process
with a library connection, a task and several coroutine frames per socket
reached only 1,375-3,265 of the 4,000 messages a second offered (issue 16),
so the servers did not see the same load. Here each connection is a bare
``asyncio.Protocol``: the opening handshake is written by hand, frames are
cut and built inline, each pair's next message is a timer callback (no task
per pair), and the load is split over several worker processes.

Client frames are masked with an all-zero key: valid per RFC 6455 (the key is
any 32-bit value) and the servers do the same unmasking work either way; it
only saves this generator an XOR over every payload.

Protocol with ``scale.py`` (one JSON object per line on stdout, commands on stdin):

- started with the target, port, pair range and this worker's share of the rate;
- opens its pairs (madoguchi: a resident and a staff member joined to room
  ``bench-<i>`` with signed join tokens; PeerJS: peers ``a-<i>``/``b-<i>``),
  then prints ``{"ready": pairs_opened, "failed": n}``;
- reads ``go <wall-clock start>``, offers its rate from then on for warm-up +
  duration seconds, open loop (each pair sends at fixed intervals, whether or
  not its previous message has arrived), alternating direction, 1 in 12 a
  4 KB offer and the rest ICE candidates;
- prints ``{"messages", "offered", "errors", "held", "latencies"}`` for the
  messages sent in the measured window (latency: sender to receiver in this
  process, ms; messages still missing ``--drain`` seconds after the window
  are offered but not relayed).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import resource
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from app.core.tokens import Purpose, Tokens  # noqa: E402

SDP = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n" + "a=bench-padding\r\n" * 110
SDP_4K = (SDP * (4096 // len(SDP) + 1))[:4096]
CAND = "1 1 udp 2122260223 192.0.2.7 54400 typ host generation 0 ufrag Abcd network-id 1"
ZERO_MASK = b"\x00\x00\x00\x00"


def frame(text: str) -> bytes:
    """One masked (all-zero key), final text frame."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        head = bytes((0x81, 0x80 | n))
    elif n < 65536:
        head = bytes((0x81, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x81, 0x80 | 127)) + n.to_bytes(8, "big")
    return head + ZERO_MASK + payload


def stamp_of(raw: str) -> int:
    """The send timestamp: first token of the SDP or after ``candidate:`` (as load.py)."""
    i = raw.find('"sdp":"')
    start = i + 7 if i >= 0 else raw.index("candidate:") + 10
    return int(raw[start : raw.index(" ", start)])


class Client(asyncio.Protocol):
    """One WebSocket client connection: handshake, then whole text frames to ``on_text``."""

    def __init__(self, path: str, host: str) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.upgraded = False
        self.closed = False
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.inbox: asyncio.Queue[str] | None = asyncio.Queue()  # until the relay starts
        self.on_text: Callable[[str], None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but write() the same.
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed during the handshake"))

    def send(self, text: str) -> None:
        assert self.transport is not None
        self.transport.write(frame(text))

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(ConnectionError(buf[:80].decode(errors="replace")))
                assert self.transport is not None
                self.transport.close()
                return
            self.upgraded = True
            self.opened.set_result(None)
            buf = buf[end + 4 :]
        i, size = 0, len(buf)
        while size - i >= 2:
            b0, length = buf[i], buf[i + 1] & 0x7F
            head = 2
            if length == 126:
                if size - i < 4:
                    break
                length = int.from_bytes(buf[i + 2 : i + 4], "big")
                head = 4
            elif length == 127:
                if size - i < 10:
                    break
                length = int.from_bytes(buf[i + 2 : i + 10], "big")
                head = 10
            end = i + head + length
            if end > size:
                break
            opcode = b0 & 0x0F
            if opcode == 1:
                text = buf[i + head : end].decode()
                if self.on_text is not None:
                    self.on_text(text)
                elif self.inbox is not None:
                    self.inbox.put_nowait(text)
            elif opcode == 9:  # ping: answer with a masked pong, same payload
                payload = buf[i + head : end]
                assert self.transport is not None
                self.transport.write(bytes((0x8A, 0x80 | len(payload))) + ZERO_MASK + payload)
            elif opcode == 8:
                self.closed = True
            i = end
        self.buf = buf[i:]

    async def recv(self) -> str:
        assert self.inbox is not None
        return await asyncio.wait_for(self.inbox.get(), 60)


async def connect(port: int, path: str) -> Client:
    loop = asyncio.get_running_loop()
    _transport, client = await loop.create_connection(
        lambda: Client(path, f"127.0.0.1:{port}"), "127.0.0.1", port
    )
    await asyncio.wait_for(client.opened, 60)
    return client


# ------------------------------------------------------------------ targets


class Madoguchi:
    def __init__(self, port: int, secret: str) -> None:
        self.port = port
        self.tokens = Tokens(secret)

    def _token(self, room: str, role: str, pid: str) -> str:
        now = datetime.now(UTC)
        claims = {"room": room, "role": role, "pid": pid, "name": "bench"}
        return self.tokens.issue(
            Purpose.JOIN,
            claims,
            not_before=now - timedelta(hours=1),
            expires=now + timedelta(hours=2),
        )

    async def _join(self, room: str, role: str, pid: str) -> Client:
        ws = await connect(self.port, "/ws")
        token = self._token(room, role, pid)
        ws.send(json.dumps({"type": "join", "v": 1, "room": room, "token": token}))
        reply = json.loads(await ws.recv())
        if reply["type"] != "joined":
            raise RuntimeError(f"join refused: {reply}")
        return ws

    async def open_pair(self, i: int) -> tuple[Client, Client, str, str]:
        room = f"bench-{i}"
        b = await self._join(room, "resident", f"r{i}")
        a = await self._join(room, "staff", f"s{i}")
        for expected in ("peer-joined", "room-state"):
            if json.loads(await b.recv())["type"] != expected:
                raise RuntimeError("unexpected frame while pairing")
        return a, b, f"s{i}", f"r{i}"

    @staticmethod
    def message(offer: bool, dst: str, stamp: int) -> str:
        if offer:
            return json.dumps({"type": "offer", "to": dst, "sdp": f"{stamp} {SDP_4K}"})
        cand = {"candidate": f"candidate:{stamp} {CAND}", "sdpMid": "0", "sdpMLineIndex": 0}
        return json.dumps({"type": "candidate", "to": dst, "candidate": cand})


class PeerJS:
    def __init__(self, port: int, secret: str) -> None:
        self.port = port

    async def _open(self, pid: str) -> Client:
        ws = await connect(self.port, f"/peerjs?key=peerjs&id={pid}&token=t{pid}")
        if json.loads(await ws.recv())["type"] != "OPEN":
            raise RuntimeError("peerjs did not open")
        return ws

    async def open_pair(self, i: int) -> tuple[Client, Client, str, str]:
        return await self._open(f"a-{i}"), await self._open(f"b-{i}"), f"a-{i}", f"b-{i}"

    @staticmethod
    def message(offer: bool, dst: str, stamp: int) -> str:
        if offer:
            sdp = {"sdp": {"type": "offer", "sdp": f"{stamp} {SDP_4K}"}, "type": "media"}
            sdp["connectionId"] = "mc_1"
            return json.dumps({"type": "OFFER", "dst": dst, "payload": sdp})
        cand = {"candidate": f"candidate:{stamp} {CAND}", "sdpMid": "0", "sdpMLineIndex": 0}
        payload = {"candidate": cand, "type": "media", "connectionId": "mc_1"}
        return json.dumps({"type": "CANDIDATE", "dst": dst, "payload": payload})


# ---------------------------------------------------------------------- run


class Pair:
    """One pair's relay: a timer sends at each due time, alternating direction.

    Open loop: the next message goes out when it is due whether or not the
    previous one has arrived, so the offered rate is the rate asked for even
    when a server falls behind (its queueing then shows in the latency instead
    of silently lowering the load, as one-in-flight did)."""

    __slots__ = ("a", "b", "due", "ida", "idb", "run", "seq")

    def __init__(self, run: Run, a: Client, b: Client, ida: str, idb: str) -> None:
        self.run, self.a, self.b, self.ida, self.idb = run, a, b, ida, idb
        self.seq = random.randrange(12)
        self.due = 0.0
        a.on_text = b.on_text = run.received
        a.inbox = b.inbox = None

    def fire(self) -> None:
        run = self.run
        if self.due >= run.t_end:
            return
        sender, dst = (self.a, self.idb) if self.seq % 2 == 0 else (self.b, self.ida)
        if not sender.closed:
            stamp = time.perf_counter_ns()
            if run.ns_measure <= stamp < run.ns_end:
                run.offered += 1
            sender.send(run.message(self.seq % 12 == 0, dst, stamp))
        self.seq += 1
        self.due += run.interval
        run.loop.call_at(self.due, self.fire)


class Run:
    def __init__(self, message: Callable[[bool, str, int], str], interval: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.message = message
        self.interval = interval
        self.t_measure = self.t_end = 0.0
        self.ns_measure = self.ns_end = 0  # the same window on perf_counter_ns
        self.messages = self.offered = self.errors = 0
        self.latencies: list[float] = []

    def received(self, raw: str) -> None:
        now_ns = time.perf_counter_ns()
        try:
            sent_at = stamp_of(raw)
        except (ValueError, IndexError):
            self.errors += 1  # not a relayed message
            return
        # Counted by when it was sent, as ``offered`` is: a message sent in the
        # window counts however late it arrives (before the results are collected).
        if self.ns_measure <= sent_at < self.ns_end:
            self.messages += 1
            self.latencies.append((now_ns - sent_at) / 1e6)


async def worker(args: argparse.Namespace) -> None:
    target = (Madoguchi if args.target == "madoguchi" else PeerJS)(args.port, args.secret)
    sem = asyncio.Semaphore(50)

    async def one(i: int) -> tuple[Client, Client, str, str] | None:
        async with sem:
            try:
                return await target.open_pair(i)
            except (OSError, RuntimeError, TimeoutError, ValueError, KeyError):
                return None

    opened = await asyncio.gather(*(one(i) for i in range(args.first, args.first + args.count)))
    pairs_open = [p for p in opened if p is not None]
    failed = args.count - len(pairs_open)
    print(json.dumps({"ready": len(pairs_open), "failed": failed}), flush=True)
    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, sys.stdin.readline)
    start_wall = float(line.split()[1])
    run = Run(target.message, len(pairs_open) / args.rate if pairs_open else 1.0)
    start = loop.time() + (start_wall - time.time())
    run.t_measure = start + args.warmup
    run.t_end = run.t_measure + args.duration
    ns_offset = time.perf_counter_ns() - int(loop.time() * 1e9)
    run.ns_measure = int(run.t_measure * 1e9) + ns_offset
    run.ns_end = int(run.t_end * 1e9) + ns_offset
    pairs = [Pair(run, *p) for p in pairs_open]
    for pair in pairs:
        pair.due = start + random.random() * run.interval
        loop.call_at(pair.due, pair.fire)
    # Late messages of the window still count: collect a while after its end.
    await asyncio.sleep(max(0.0, run.t_end - loop.time()) + args.drain)
    held = sum(1 for p in pairs_open for c in p[:2] if not c.closed)
    print(
        json.dumps(
            {
                "messages": run.messages,
                "offered": run.offered,
                "errors": run.errors,
                "held": held,
                "latencies": [round(x, 3) for x in run.latencies],
            }
        ),
        flush=True,
    )
    await loop.run_in_executor(None, sys.stdin.readline)  # "stop": then close the sockets
    for p in pairs_open:
        for c in p[:2]:
            if c.transport is not None:
                c.transport.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", choices=["madoguchi", "peerjs"], required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", default="")
    parser.add_argument("--first", type=int, required=True, help="first pair number")
    parser.add_argument("--count", type=int, required=True, help="pairs in this worker")
    parser.add_argument("--rate", type=float, required=True, help="this worker's msg/s")
    parser.add_argument("--warmup", type=float, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--drain", type=float, default=5.0, help="s after the window")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        import uvloop
    except ImportError:
        asyncio.run(worker(args))
    else:
        uvloop.run(worker(args))


if __name__ == "__main__":
    main()
