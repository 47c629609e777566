"""Several signaling nodes joined by a REAL Redis (127.0.0.1:6379, namespaced keys)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sig_helpers import FAST_CLUSTER, Client, issue, known_peers, make_server

from signaling.asyncio.bus import Cluster, MemoryRoomStore
from signaling.asyncio.redis_bus import RedisBus, RedisRoomStore
from signaling.asyncio.server import SignalingServer

pytestmark = pytest.mark.redis

ROOM = "room-r"
HERE = Path(__file__).parent
SUPPORT = HERE.parents[1] / "support"  # sig_helpers, for node_proc.py


def redis_node(url: str, prefix: str, node: str) -> tuple[SignalingServer, RedisBus]:
    bus = RedisBus(url, name=f"mdg-test-{prefix}{node}", backoff_min=0.05, backoff_max=0.5)
    store = RedisRoomStore(bus.redis, prefix=prefix)
    cluster = Cluster(bus, store, node=node, prefix=prefix, alive_ttl=FAST_CLUSTER.node_timeout)
    server = make_server(cluster=cluster, node=node, config=FAST_CLUSTER, on_close=[bus.close])
    return server, bus


@pytest.fixture
async def two_nodes(
    redis_url: str, key_prefix: str
) -> AsyncIterator[tuple[SignalingServer, SignalingServer]]:
    a, _ = redis_node(redis_url, key_prefix, "a")
    b, _ = redis_node(redis_url, key_prefix, "b")
    async with a, b:
        yield a, b


async def test_peers_on_different_nodes_talk_normally(
    two_nodes: tuple[SignalingServer, SignalingServer],
) -> None:
    a, b = two_nodes
    resident = await Client.open(a.url)
    await resident.join(ROOM, issue(ROOM, "resident", "r1"))
    staff = await Client.open(b.url)
    staff_joined = await staff.join(ROOM, issue(ROOM, "staff", "s1"))
    peers = await known_peers(staff, staff_joined, {"r1"})
    assert peers["r1"].initiator is True
    assert (await resident.expect("peer-joined")).peer.id == "s1"
    assert (await resident.expect("room-state")).state.value == "active"

    await staff.send({"type": "offer", "to": "r1", "sdp": "v=0 cross-node"})
    assert (await resident.expect("offer")).sdp == "v=0 cross-node"
    await resident.send({"type": "answer", "to": "s1", "sdp": "answer"})
    assert (await staff.expect("answer")).from_ == "r1"
    cand = {
        "candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host",
        "sdpMid": "0",
        "sdpMLineIndex": 0,
    }
    await resident.send({"type": "candidate", "to": "s1", "candidate": cand})
    assert (await staff.expect("candidate")).candidate.candidate == cand["candidate"]

    # Capacity holds across nodes: a second resident on node b is refused.
    intruder = await Client.open(b.url)
    await intruder.send(
        {"type": "join", "v": 1, "room": ROOM, "token": issue(ROOM, "resident", "r2")}
    )
    code, _ = await intruder.closed()
    assert code == 4006

    await staff.send({"type": "end"})
    assert (await resident.expect("ended")).by == "s1"


async def test_a_node_started_later_loads_the_rooms(redis_url: str, key_prefix: str) -> None:
    a, _ = redis_node(redis_url, key_prefix, "a")
    async with a:
        resident = await Client.open(a.url)
        await resident.join(ROOM, issue(ROOM, "resident", "r1"))
        await a.settled()  # the seat is in the shared store
        b, _ = redis_node(redis_url, key_prefix, "b")
        async with b:
            staff = await Client.open(b.url)
            joined = await staff.join(ROOM, issue(ROOM, "staff", "s1"))
            assert [p.id for p in joined.peers] == ["r1"]
            await staff.send({"type": "offer", "to": "r1", "sdp": "late"})
            assert (await resident.expect("peer-joined")).peer.id == "s1"
            await resident.expect("room-state")
            assert (await resident.expect("offer")).sdp == "late"


async def test_bus_recovers_after_its_redis_connection_is_killed(
    redis_url: str, key_prefix: str
) -> None:
    a, bus_a = redis_node(redis_url, key_prefix, "a")
    b, _ = redis_node(redis_url, key_prefix, "b")
    async with a, b:
        resident = await Client.open(a.url)
        await resident.join(ROOM, issue(ROOM, "resident", "r1"))
        staff = await Client.open(b.url)
        await known_peers(staff, await staff.join(ROOM, issue(ROOM, "staff", "s1")), {"r1"})
        await resident.expect("peer-joined")
        await resident.expect("room-state")

        resynced = asyncio.Event()

        async def on_reconnect() -> None:
            resynced.set()

        bus_a.on_reconnect(on_reconnect)
        admin = aioredis.Redis.from_url(redis_url, decode_responses=True)
        try:
            clients = await admin.client_list(_type="pubsub")
            ids = [c["id"] for c in clients if c.get("name") == bus_a.name]
            assert ids, "node a's subscriber connection not found"
            for client_id in ids:
                await admin.client_kill_filter(_id=client_id)
        finally:
            await admin.aclose()
        async with asyncio.timeout(10):
            await resynced.wait()
        assert bus_a.reconnects == 1
        await staff.send({"type": "offer", "to": "r1", "sdp": "after outage"})
        assert (await resident.expect("offer")).sdp == "after outage"


async def test_seat_survives_the_death_of_its_node(redis_url: str, key_prefix: str) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join((str(SUPPORT), os.environ.get("PYTHONPATH", ""))),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "node_proc.py"),
        redis_url,
        key_prefix,
        "doomed",
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(20):
            line = (await proc.stdout.readline()).decode()
        assert line.startswith("PORT "), line
        doomed_url = f"ws://127.0.0.1:{int(line.split()[1])}/ws"

        survivor, _ = redis_node(redis_url, key_prefix, "survivor")
        async with survivor:
            token = issue(ROOM, "resident", "r1")
            resident = await Client.open(doomed_url)
            joined = await resident.join(ROOM, token)
            staff = await Client.open(survivor.url)
            staff_joined = await staff.join(ROOM, issue(ROOM, "staff", "s1"))
            await known_peers(staff, staff_joined, {"r1"})
            await resident.expect("peer-joined")

            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            code, _ = await resident.closed()
            assert code != 1000  # dropped, not a clean close: the client resumes

            reconnecting = await staff.expect("peer-reconnecting")
            assert reconnecting.peer == "r1"
            back = await Client.open(survivor.url)
            rejoined = await back.join(ROOM, token, resume=joined.session)
            assert rejoined.resumed and [p.id for p in rejoined.peers] == ["s1"]
            resumed = await staff.expect("peer-resumed")
            assert (resumed.peer, resumed.initiator) == ("r1", True)
            await staff.send({"type": "offer", "to": "r1", "sdp": "ice restart"})
            assert (await back.expect("offer")).sdp == "ice restart"
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_the_store_forgets_rooms_ended_longer_ago_than_its_memory(
    redis_url: str, key_prefix: str
) -> None:
    """Redis kept every ended room for ever; now a room is dropped once it
    ended longer ago than ``ended_memory``, and snapshots never return it."""
    now = [1_000_000.0]
    bus = RedisBus(redis_url, name=f"mdg-test-{key_prefix}mem")
    try:
        store = RedisRoomStore(bus.redis, prefix=key_prefix, ended_memory=60, clock=lambda: now[0])
        memory = MemoryRoomStore(ended_memory=60, clock=lambda: now[0])
        for s in (store, memory):
            await s.add_ended("old")
        now[0] += 30
        for s in (store, memory):
            await s.add_ended("new")
            assert (await s.snapshot())[1] == {"old", "new"}
        now[0] += 31  # "old" ended 61 s ago
        for s in (store, memory):
            assert (await s.snapshot())[1] == {"new"}
            await s.add_ended("newer")  # a write also drops what is past memory
        assert await bus.redis.zrange(f"{key_prefix}ended-at", 0, -1) == ["new", "newer"]
        assert list(memory.ended) == ["new", "newer"]
    finally:
        await bus.close()
