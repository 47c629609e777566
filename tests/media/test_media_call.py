"""Real WebRTC calls through the real signaling server, in a private namespace.

Each test builds its world inside the namespace: signaling nodes (in this
process or in their own), a private redis-server where several nodes are
needed, and aiortc peers (in this process or in their own). Every wait is an
event with a generous timeout, never a sleep followed by an assertion.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator

import pytest
from call_harness import (
    SECRET,
    TIMEOUT,
    RemotePeer,
    SignalingNode,
    join_token,
    start_redis,
)

import media.client as client_module
from app.core.settings import Settings
from app.signaling_node import start_signaling
from media.client import CallClient
from media.errors import SignalingRefused
from media.loopback import NetworkNamespace
from media.peerlink import PeerLink
from signaling.asyncio.server import SignalingServer
from signaling.events import EventKind, MemoryEventSink

pytestmark = pytest.mark.media

ROOM = "bk-media-0001"


@contextlib.asynccontextmanager
async def local_node(name: str = "n1") -> AsyncIterator[SignalingServer]:
    """A signaling node on this event loop (memory bus), on a free port."""
    server = await start_signaling(
        Settings(mode="demo", secret_key=SECRET), host="127.0.0.1", port=0, node=name
    )
    try:
        yield server
    finally:
        await server.close()


def resident(urls: str | list[str], room: str = ROOM) -> CallClient:
    return CallClient(urls, room=room, token=join_token(room, "resident", "r-1"))


def staff(urls: str | list[str], room: str = ROOM) -> CallClient:
    return CallClient(urls, room=room, token=join_token(room, "staff", "s-1"))


async def assert_media_flows(link: PeerLink, *, video_above: int = -1) -> int:
    """Increasing decoded video frames and audio on ``link``; returns the last frame number."""
    stats = await asyncio.wait_for(
        link.wait_media(video_above=video_above + 10, audio_frames=10), TIMEOUT
    )
    assert stats.video is not None
    assert stats.audio is not None
    assert stats.video.frame_numbers_increasing
    assert stats.video.frames >= 2
    assert stats.audio.frames_with_sound > 0
    assert stats.audio_packets > 0
    assert stats.video.last_frame_number is not None
    return stats.video.last_frame_number


async def assert_data_both_ways(a: PeerLink, b: PeerLink, tag: str) -> None:
    await asyncio.wait_for(a.wait_channel_open(), TIMEOUT)
    await asyncio.wait_for(b.wait_channel_open(), TIMEOUT)
    a.send(f"{tag}: a to b")
    b.send(f"{tag}: b to a")
    assert await asyncio.wait_for(b.messages.get(), TIMEOUT) == f"{tag}: a to b"
    assert await asyncio.wait_for(a.messages.get(), TIMEOUT) == f"{tag}: b to a"
    assert await asyncio.wait_for(a.ping(), TIMEOUT) > 0
    assert await asyncio.wait_for(b.ping(), TIMEOUT) > 0


async def connected_pair(
    r: CallClient, s: CallClient, generation: int = 1
) -> tuple[PeerLink, PeerLink]:
    link_r = await asyncio.wait_for(r.wait_connected("s-1", generation=generation), TIMEOUT)
    link_s = await asyncio.wait_for(s.wait_connected("r-1", generation=generation), TIMEOUT)
    return link_r, link_s


def test_call_through_signaling_in_one_process(netns: NetworkNamespace) -> None:
    async def scenario() -> None:
        async with local_node() as node:
            r, s = resident(node.url), staff(node.url)
            try:
                # The resident waits first; staff joining starts negotiation.
                await r.start()
                await s.start()
                link_r, link_s = await connected_pair(r, s)
                # Protocol roles: staff initiates, the resident answers.
                assert link_s.initiator
                assert not link_r.initiator
                await assert_media_flows(link_r)
                await assert_media_flows(link_s)
                await assert_data_both_ways(link_r, link_s, "first")

                # Both sides sent `connected`: the server records the call start.
                sink = node.sink
                assert isinstance(sink, MemoryEventSink)

                async def call_started() -> None:
                    # The memory sink has no notification to wait on; poll its list.
                    while EventKind.CALL_START not in sink.kinds(ROOM):  # noqa: ASYNC110
                        await asyncio.sleep(0.05)

                await asyncio.wait_for(call_started(), TIMEOUT)
            finally:
                await r.leave()
                await s.leave()

    netns.run(scenario)


def test_call_between_two_processes(netns: NetworkNamespace) -> None:
    async def scenario() -> None:
        node = await SignalingNode.start(netns, "n1")
        peers: list[RemotePeer] = []
        try:
            for role, pid in (("resident", "r-1"), ("staff", "s-1")):
                token = join_token(ROOM, role, pid)
                peers.append(
                    await RemotePeer.start(netns, role, room=ROOM, token=token, urls=[node.url])
                )
            r, s = peers
            assert (await r.call("wait-connected"))["peer"] == "s-1"
            assert (await s.call("wait-connected"))["peer"] == "r-1"
            for peer in peers:
                stats = await peer.call("wait-media", video_above=10, audio_frames=10)
                assert stats["video"]["frame_numbers_increasing"]
                assert stats["audio_packets"] > 0
            await r.call("send", body="hello from the resident")
            await s.call("send", body="hello from staff")
            assert (await s.call("recv"))["body"] == "hello from the resident"
            assert (await r.call("recv"))["body"] == "hello from staff"
            assert (await r.call("ping"))["rtt_ms"] > 0
        finally:
            for peer in peers:
                await peer.stop()
            await node.process.stop()

    netns.run(scenario)


def test_call_across_two_nodes_over_redis(netns: NetworkNamespace) -> None:
    async def scenario() -> None:
        redis, redis_url = await start_redis(netns)
        nodes: list[SignalingNode] = []
        peers: list[RemotePeer] = []
        try:
            nodes.append(await SignalingNode.start(netns, "node-a", redis_url=redis_url))
            nodes.append(await SignalingNode.start(netns, "node-b", redis_url=redis_url))
            # The resident on node A, staff on node B: every relay crosses Redis.
            for (role, pid), node in zip(
                (("resident", "r-1"), ("staff", "s-1")), nodes, strict=True
            ):
                token = join_token(ROOM, role, pid)
                peers.append(
                    await RemotePeer.start(netns, role, room=ROOM, token=token, urls=[node.url])
                )
            r, s = peers
            assert (await r.call("wait-connected"))["peer"] == "s-1"
            assert (await s.call("wait-connected"))["peer"] == "r-1"
            for peer in peers:
                stats = await peer.call("wait-media", video_above=10, audio_frames=10)
                assert stats["video"]["frame_numbers_increasing"]
                assert stats["audio_packets"] > 0
            await r.call("send", body="across nodes")
            assert (await s.call("recv"))["body"] == "across nodes"
            await s.call("send", body="and back")
            assert (await r.call("recv"))["body"] == "and back"
            assert (await r.call("stats"))["url"] == nodes[0].url
            assert (await s.call("stats"))["url"] == nodes[1].url
        finally:
            for peer in peers:
                await peer.stop()
            for node in nodes:
                await node.process.stop()
            await redis.stop()

    netns.run(scenario)


@pytest.mark.parametrize("cut", ["resident", "staff"])
def test_call_resumes_after_a_socket_is_cut(netns: NetworkNamespace, cut: str) -> None:
    """One side's signaling socket dies without a close (Wi-Fi lost); it resumes and
    the pair renegotiates from new peer connections (aiortc cannot restart ICE)."""

    async def scenario() -> None:
        async with local_node() as node:
            r, s = resident(node.url), staff(node.url)
            try:
                await r.start()
                await s.start()
                link_r, link_s = await connected_pair(r, s)
                before = await assert_media_flows(link_r)
                await assert_data_both_ways(link_r, link_s, "before")

                victim, other = (r, s) if cut == "resident" else (s, r)
                victim.drop_socket()
                await asyncio.wait_for(victim.wait_until(lambda: victim.resumes >= 1), TIMEOUT)

                link_r, link_s = await connected_pair(r, s, generation=2)
                await assert_media_flows(link_r, video_above=before)
                await assert_media_flows(link_s, video_above=before)
                await assert_data_both_ways(link_r, link_s, "after")
                assert (await victim.stats()).socket_drops == 1
                assert (await other.stats()).socket_drops == 0
            finally:
                await r.leave()
                await s.leave()

    netns.run(scenario)


@pytest.mark.parametrize("how", ["sigkill", "sigterm"])
def test_call_resumes_on_the_other_node_after_a_node_is_killed(
    netns: NetworkNamespace, how: str
) -> None:
    """Fault test: the resident's node dies (SIGKILL) or drains (SIGTERM: close code
    1012); the resident resumes on the other node and media flows again. The time
    from the signal to flowing media is printed (target 10 s), not asserted."""

    async def scenario() -> None:
        redis, redis_url = await start_redis(netns)
        nodes: list[SignalingNode] = []
        clients: list[CallClient] = []
        try:
            nodes.append(await SignalingNode.start(netns, "node-a", redis_url=redis_url))
            nodes.append(await SignalingNode.start(netns, "node-b", redis_url=redis_url))
            a, b = nodes
            # The resident knows both nodes (as behind a load balancer) and starts on A.
            r = resident([a.url, b.url])
            s = staff(b.url)
            clients += [r, s]
            await r.start()
            await s.start()
            link_r, link_s = await connected_pair(r, s)
            before = await assert_media_flows(link_r)
            await assert_media_flows(link_s)

            loop = asyncio.get_running_loop()
            signalled_at = loop.time()
            if how == "sigkill":
                a.process.kill()  # no goodbye to anyone
            else:
                a.process.proc.terminate()  # graceful: 1012, "reconnect elsewhere"
            await asyncio.wait_for(a.process.proc.wait(), TIMEOUT)
            await asyncio.wait_for(r.wait_until(lambda: r.resumes >= 1), TIMEOUT * 2)
            assert r.url == b.url

            link_r, link_s = await connected_pair(r, s, generation=2)
            await assert_media_flows(link_r, video_above=before)
            await assert_media_flows(link_s, video_above=before)
            took = loop.time() - signalled_at
            print(f"\nnode {how}: media flowing again through the other node after {took:.2f} s")
            await assert_data_both_ways(link_r, link_s, "after node death")
        finally:
            for client in clients:
                await client.leave()
            for node in nodes:
                await node.process.stop()
            await redis.stop()

    netns.run(scenario)


def test_call_resumes_on_the_other_node_when_both_peers_were_on_the_killed_node(
    netns: NetworkNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault test (issue 7): both peers sit on node A, which is SIGKILLed mid-call.
    Both reconnect to node B and resume, in either order. When staff resumes a
    moment before the resident, it sends two ICE-restart offers (``restart-ice``
    after its own resume, then ``peer-resumed`` for the resident's) and both can
    reach the resident, which answers each: staff must apply only the answer to
    its latest offer (negotiation ids). The time from the kill to flowing media
    is printed (target 10 s), not asserted."""
    # Both clients back off alike, as two browsers losing the same node do; a
    # 2 % jitter (instead of 20 %) brings them back within ~10 ms of each other,
    # where the two offers cross in about half the runs, either order winning.
    monkeypatch.setattr(client_module.random, "uniform", lambda _a, _b: 1 + random.random() / 50)

    async def scenario() -> None:
        redis, redis_url = await start_redis(netns)
        nodes: list[SignalingNode] = []
        clients: list[CallClient] = []
        try:
            nodes.append(await SignalingNode.start(netns, "node-a", redis_url=redis_url))
            nodes.append(await SignalingNode.start(netns, "node-b", redis_url=redis_url))
            a, b = nodes
            # Both know both nodes (as behind a load balancer) and start on A.
            r = resident([a.url, b.url])
            s = staff([a.url, b.url])
            clients += [r, s]
            await r.start()
            await s.start()
            assert r.url == a.url
            assert s.url == a.url
            link_r, link_s = await connected_pair(r, s)
            before_r = await assert_media_flows(link_r)
            before_s = await assert_media_flows(link_s)
            await assert_data_both_ways(link_r, link_s, "before")

            loop = asyncio.get_running_loop()
            killed_at = loop.time()
            a.process.kill()
            await asyncio.wait_for(a.process.proc.wait(), TIMEOUT)
            await asyncio.wait_for(r.wait_until(lambda: r.resumes >= 1), TIMEOUT * 2)
            await asyncio.wait_for(s.wait_until(lambda: s.resumes >= 1), TIMEOUT * 2)
            assert r.url == b.url
            assert s.url == b.url

            link_r, link_s = await connected_pair(r, s, generation=2)
            await assert_media_flows(link_r, video_above=before_r)
            await assert_media_flows(link_s, video_above=before_s)
            took = loop.time() - killed_at
            print(f"\nboth peers' node killed: media flowing again on node B after {took:.2f} s")
            await assert_data_both_ways(link_r, link_s, "after node death")
            # Settled: one connection per side, both still connected.
            assert link_r.pc is not None and link_r.pc.connectionState == "connected"
            assert link_s.pc is not None and link_s.pc.connectionState == "connected"
        finally:
            for client in clients:
                await client.leave()
            for node in nodes:
                await node.process.stop()
            await redis.stop()

    netns.run(scenario)


def test_client_reports_a_refused_join_and_does_not_retry(netns: NetworkNamespace) -> None:
    async def scenario() -> None:
        async with local_node() as node:
            # A valid token for another room: refused with the documented code.
            client = CallClient(
                node.url, room=ROOM, token=join_token("bk-other-room", "resident", "r-9")
            )
            with pytest.raises(SignalingRefused) as refused:
                await asyncio.wait_for(client.start(), TIMEOUT)
            assert refused.value.code == "wrong-room"
            assert (await client.stats()).socket_drops == 0
            await client.close()

    netns.run(scenario)
