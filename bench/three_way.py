"""Three participants: mesh (our choice) against a server-side aiortc relay, CPU cost.

Usage (root: it creates a loopback-only network namespace, like the media tests)::

    .venv/bin/python bench/three_way.py                 # 20 s of media per topology
    .venv/bin/python bench/three_way.py --seconds 40

Both topologies run the same three participants (synthetic 320x240 15 fps
VP8 video and Opus audio, ``media.synthetic``), each in its own process, and
the server in its own process, all inside one private namespace. Once every
participant decodes both others' video, CPU seconds (utime + stime from
``/proc/PID/stat``) are sampled over the same window for every process:

* **mesh**: the production path. The server is the signaling node
  (``app.main.start_signaling``); each participant is a
  ``media.client.CallClient`` with one peer connection per other participant
  (so it encodes its camera twice and decodes two streams). The server relays
  SDP only.
* **relay**: an SFU-like aiortc server. Each participant sends one video and
  audio up to it and receives the two others' from it; the server fans the
  tracks out with ``aiortc.contrib.media.MediaRelay``.
  aiortc cannot forward RTP without decoding, so the server decodes three
  streams and encodes six (one per receiver and sender pair).

Every process also reports the video frames it decoded from each remote, so
a topology that silently carried no media cannot win.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from app.core.settings import Settings
from app.core.tokens import Purpose, Tokens
from app.signaling_node import start_signaling
from media.client import CallClient
from media.ice import rtc_configuration
from media.loopback import NetworkNamespace, allow_loopback_candidates
from media.meter import TrackMeter
from media.synthetic import SineToneAudioTrack, TestPatternVideoTrack

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(__file__).resolve()
SECRET = "three-way-bench"  # a throwaway key for this run's tokens
ROOM = "bench-3way"
PEOPLE = (("resident", "r-1"), ("staff", "s-1"), ("interpreter", "i-1"))
CLK_TCK = os.sysconf("SC_CLK_TCK")
READY_TIMEOUT = 60.0


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (fields 14 and 15 of /proc/PID/stat)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def emit(data: dict[str, Any]) -> None:
    print(json.dumps(data), flush=True)


async def read_command() -> str:
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    return line.strip()


# ------------------------------------------------------------------ processes


async def signaling_main() -> None:
    server = await start_signaling(
        Settings(mode="demo", secret_key=SECRET), host="127.0.0.1", port=0, node="bench"
    )
    emit({"url": server.url})
    await read_command()  # "stop"
    await server.close()


def join_token(role: str, pid: str) -> str:
    now = datetime.now(UTC)
    return Tokens(SECRET).issue(
        Purpose.JOIN,
        {"room": ROOM, "role": role, "pid": pid, "name": pid},
        not_before=now - timedelta(minutes=1),
        expires=now + timedelta(hours=1),
    )


async def mesh_peer_main(url: str, role: str, pid: str) -> None:
    allow_loopback_candidates()
    client = CallClient(url, room=ROOM, token=join_token(role, pid), reconnect=False)
    await client.start()
    others = [p for _, p in PEOPLE if p != pid]
    for other in others:
        link = await asyncio.wait_for(client.wait_connected(other), READY_TIMEOUT)
        await asyncio.wait_for(link.wait_media(video_above=5), READY_TIMEOUT)
    emit({"ready": True})
    await read_command()  # "report"
    stats = await client.stats()
    emit({"frames": {s.peer: s.video_frames for s in stats.links}})
    await read_command()  # "stop"
    await client.close()


async def _exchange(port: int, request: dict[str, str], pc: RTCPeerConnection) -> None:
    """Send ``pc``'s offer to the relay over a loopback TCP line, apply its answer."""
    await pc.setLocalDescription(await pc.createOffer())
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    payload = {**request, "sdp": pc.localDescription.sdp}
    writer.write(json.dumps(payload).encode() + b"\n")
    await writer.drain()
    answer = json.loads(await asyncio.wait_for(reader.readline(), READY_TIMEOUT))
    writer.close()
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))


async def relay_server_main() -> None:
    """An SFU-like aiortc relay: one upstream connection per participant, and one
    downstream connection per (receiver, sender) pair fed through ``MediaRelay``.

    (Downstream connections are separate because aiortc 1.16 leaves a second
    bundled video m-line of one connection without packets; the codec work,
    which is what is measured, is the same either way.)
    """
    allow_loopback_candidates()
    relay = MediaRelay()
    pcs: list[RTCPeerConnection] = []
    tracks: dict[str, dict[str, MediaStreamTrack]] = {}
    arrived: dict[str, asyncio.Event] = {pid: asyncio.Event() for _, pid in PEOPLE}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = json.loads(await reader.readline())
        pc = RTCPeerConnection(rtc_configuration(()))
        pcs.append(pc)
        if request["kind"] == "up":
            mine = tracks.setdefault(request["pid"], {})
            pc.on("track", lambda track: mine.setdefault(track.kind, track))
            await pc.setRemoteDescription(RTCSessionDescription(request["sdp"], "offer"))
            arrived[request["pid"]].set()
        else:
            await pc.setRemoteDescription(RTCSessionDescription(request["sdp"], "offer"))
            await arrived[request["source"]].wait()
            # Added after setRemoteDescription, matching the offer's m-lines.
            for kind in ("audio", "video"):
                pc.addTrack(relay.subscribe(tracks[request["source"]][kind], buffered=False))
        await pc.setLocalDescription(await pc.createAnswer())
        writer.write(json.dumps({"sdp": pc.localDescription.sdp}).encode() + b"\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    emit({"port": port})
    await read_command()  # "stop"
    for pc in pcs:
        await pc.close()
    server.close()


async def relay_peer_main(port: int, pid: str) -> None:
    allow_loopback_candidates()
    up = RTCPeerConnection(rtc_configuration(()))
    up.addTrack(SineToneAudioTrack())
    up.addTrack(TestPatternVideoTrack())
    await _exchange(port, {"pid": pid, "kind": "up"}, up)
    downs: list[RTCPeerConnection] = []
    meters: dict[str, TrackMeter] = {}
    for other in [p for _, p in PEOPLE if p != pid]:
        down = RTCPeerConnection(rtc_configuration(()))
        downs.append(down)

        def on_track(track: MediaStreamTrack, other: str = other) -> None:
            meter = TrackMeter(track)  # audio is consumed (and decoded) too
            meter.start()
            if track.kind == "video":
                meters[other] = meter

        down.on("track", on_track)
        down.addTransceiver("audio", direction="recvonly")
        down.addTransceiver("video", direction="recvonly")
        await _exchange(port, {"pid": pid, "kind": "down", "source": other}, down)

    async def both_flowing() -> None:
        while len(meters) < len(PEOPLE) - 1:  # noqa: ASYNC110 - aiortc has no event for it
            await asyncio.sleep(0.05)
        for meter in meters.values():
            await meter.wait_for(lambda s: (s.last_frame_number or -1) > 5)

    await asyncio.wait_for(both_flowing(), READY_TIMEOUT)
    emit({"ready": True})
    await read_command()  # "report"
    emit({"frames": {other: m.stats().frames for other, m in meters.items()}})
    await read_command()  # "stop"
    for pc in [up, *downs]:
        await pc.close()


# ------------------------------------------------------------------ orchestration


class Child:
    def __init__(self, name: str, proc: asyncio.subprocess.Process) -> None:
        self.name = name
        self.proc = proc

    @classmethod
    async def start(cls, netns: NetworkNamespace, name: str, *args: str) -> Child:
        argv = netns.command([sys.executable, str(SCRIPT), *args])
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )
        return cls(name, proc)

    async def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), READY_TIMEOUT)
        if not line:
            raise RuntimeError(f"{self.name} exited early")
        data: dict[str, Any] = json.loads(line)
        return data

    async def tell(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()

    async def stop(self) -> None:
        if self.proc.returncode is None:
            await self.tell("stop")
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def measure(server: Child, peers: list[Child], seconds: float) -> dict[str, Any]:
    for peer in peers:
        await peer.read()  # {"ready": true}: both others decoded
    procs = [server, *peers]
    before = {c.name: cpu_seconds(c.proc.pid) for c in procs}
    start = asyncio.get_running_loop().time()
    await asyncio.sleep(seconds)  # the measuring window itself
    elapsed = asyncio.get_running_loop().time() - start
    after = {c.name: cpu_seconds(c.proc.pid) for c in procs}
    frames = {}
    for peer in peers:
        await peer.tell("report")
        frames[peer.name] = (await peer.read())["frames"]
    return {
        "window": elapsed,
        "cpu": {name: after[name] - before[name] for name in before},
        "frames": frames,
    }


async def run_mesh(netns: NetworkNamespace, seconds: float) -> dict[str, Any]:
    server = await Child.start(netns, "server", "signaling")
    peers: list[Child] = []
    try:
        url = (await server.read())["url"]
        for role, pid in PEOPLE:
            peers.append(await Child.start(netns, pid, "mesh-peer", url, role, pid))
        return await measure(server, peers, seconds)
    finally:
        for child in [*peers, server]:
            await child.stop()


async def run_relay(netns: NetworkNamespace, seconds: float) -> dict[str, Any]:
    server = await Child.start(netns, "server", "relay-server")
    peers: list[Child] = []
    try:
        port = (await server.read())["port"]
        for _, pid in PEOPLE:
            peers.append(await Child.start(netns, pid, "relay-peer", str(port), pid))
        return await measure(server, peers, seconds)
    finally:
        for child in [*peers, server]:
            await child.stop()


def report(name: str, result: dict[str, Any]) -> None:
    window = result["window"]
    cpu = result["cpu"]
    clients = [cpu[pid] for _, pid in PEOPLE]
    print(f"\n{name}: window {window:.1f} s")
    server = cpu["server"]
    print(f"  server CPU   {server:7.2f} s  ({100 * server / window:5.1f} % of a core)")
    for _, pid in PEOPLE:
        print(f"  client {pid:5} {cpu[pid]:7.2f} s  ({100 * cpu[pid] / window:5.1f} % of a core)")
    print(f"  clients mean {sum(clients) / len(clients) / window * 100:5.1f} % of a core")
    print(f"  video frames decoded per remote: {result['frames']}")


async def orchestrate(seconds: float) -> None:
    with NetworkNamespace.create(prefix="mdg-bench") as netns:
        mesh = await run_mesh(netns, seconds)
        relay = await run_relay(netns, seconds)
    report("mesh (signaling only, media peer to peer)", mesh)
    report("relay (aiortc MediaRelay on the server)", relay)
    w_m, w_r = mesh["window"], relay["window"]
    server_ratio = (relay["cpu"]["server"] / w_r) / max(mesh["cpu"]["server"] / w_m, 1e-9)
    c_m = sum(mesh["cpu"][p] for _, p in PEOPLE) / w_m
    c_r = sum(relay["cpu"][p] for _, p in PEOPLE) / w_r
    print(f"\nserver CPU relay / mesh: {server_ratio:.0f}x")
    print(f"client CPU mesh / relay: {c_m / c_r:.2f}x")
    total_m = c_m + mesh["cpu"]["server"] / w_m
    total_r = c_r + relay["cpu"]["server"] / w_r
    print(f"all processes mesh / relay: {total_m / total_r:.2f}x")


async def orchestrate_one(which: str, seconds: float) -> None:
    with NetworkNamespace.create(prefix="mdg-bench") as netns:
        result = await (run_mesh if which == "mesh" else run_relay)(netns, seconds)
    report(which, result)


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if argv and argv[0] == "signaling":
        asyncio.run(signaling_main())
    elif argv and argv[0] == "mesh-peer":
        asyncio.run(mesh_peer_main(argv[1], argv[2], argv[3]))
    elif argv and argv[0] == "relay-server":
        asyncio.run(relay_server_main())
    elif argv and argv[0] == "relay-peer":
        asyncio.run(relay_peer_main(int(argv[1]), argv[2]))
    else:
        parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
        parser.add_argument("--seconds", type=float, default=20.0)
        parser.add_argument("--only", choices=["mesh", "relay"], help="run one topology")
        opts = parser.parse_args(argv)
        if opts.only:
            asyncio.run(orchestrate_one(opts.only, opts.seconds))
        else:
            asyncio.run(orchestrate(opts.seconds))


if __name__ == "__main__":
    main(sys.argv[1:])
