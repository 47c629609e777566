"""Fault test: the Redis server behind two signaling nodes is killed and restarted.

A private ``redis-server`` (started here on a free 127.0.0.1 port, never the
shared one) joins two in-process nodes; a call spans them. Redis is killed
with SIGKILL and started again empty on the same port. Both nodes must
reconnect, republish their seats and carry the existing call and new calls
across nodes again.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator

import pytest
from sig_helpers import Client, issue, known_peers
from smtp_inbox import free_port  # type: ignore[import-not-found]
from test_signaling_redis import redis_node  # type: ignore[import-not-found]

pytestmark = pytest.mark.redis
ROOM = "room-restart"
WAIT = 30.0


class PrivateRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(WAIT)


async def wait_listening(port: int) -> None:
    async with asyncio.timeout(WAIT):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        message = "redis-server is not installed"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    redis = PrivateRedis()
    redis.start()
    try:
        yield redis
    finally:
        if redis.proc is not None and redis.proc.poll() is None:
            redis.proc.kill()
            redis.proc.wait()


async def test_signaling_recovers_after_redis_restarts(private_redis: PrivateRedis) -> None:
    await wait_listening(private_redis.port)
    a, bus_a = redis_node(private_redis.url, "restart:", "a")
    b, bus_b = redis_node(private_redis.url, "restart:", "b")
    async with a, b:
        resident = await Client.open(a.url)
        await resident.join(ROOM, issue(ROOM, "resident", "r1"))
        staff = await Client.open(b.url)
        await known_peers(staff, await staff.join(ROOM, issue(ROOM, "staff", "s1")), {"r1"})
        await resident.expect("peer-joined")
        await resident.expect("room-state")
        await staff.send({"type": "offer", "to": "r1", "sdp": "before"})
        assert (await resident.expect("offer")).sdp == "before"

        resynced = {"a": asyncio.Event(), "b": asyncio.Event()}
        for name, bus in (("a", bus_a), ("b", bus_b)):

            async def done(event: asyncio.Event = resynced[name]) -> None:
                event.set()

            bus.on_reconnect(done)  # runs after the node's own resync
        private_redis.kill()
        private_redis.start()  # empty: no persistence
        await wait_listening(private_redis.port)
        async with asyncio.timeout(WAIT):
            for event in resynced.values():
                await event.wait()
        assert bus_a.reconnects >= 1 and bus_b.reconnects >= 1

        # The call in progress relays across nodes again, both ways.
        await staff.send({"type": "offer", "to": "r1", "sdp": "after restart"})
        assert (await resident.expect("offer")).sdp == "after restart"
        await resident.send({"type": "answer", "to": "s1", "sdp": "answer after"})
        assert (await staff.expect("answer")).sdp == "answer after"

        # A new call across the nodes works, and the rebuilt store knows both seats.
        room2 = "room-restart-2"
        r2 = await Client.open(b.url)
        await r2.join(room2, issue(room2, "resident", "r2"))
        await b.settled()
        s2 = await Client.open(a.url)
        await known_peers(s2, await s2.join(room2, issue(room2, "staff", "s2")), {"r2"})
        await r2.expect("peer-joined")
        await r2.expect("room-state")
        await s2.send({"type": "offer", "to": "r2", "sdp": "new call"})
        assert (await r2.expect("offer")).sdp == "new call"
        intruder = await Client.open(b.url)
        await intruder.send(
            {"type": "join", "v": 1, "room": ROOM, "token": issue(ROOM, "resident", "r9")}
        )
        code, _ = await intruder.closed()
        assert code == 4006  # the old room's seats survived the restart: it is full
