"""An aiortc call participant that joins like a browser would, in its own namespace.

    python tests/network/aiortc_peer.py --base-url URL --room R --token T --turn udp|tcp|tls

It asks the app's rtc-config endpoint for ICE servers (with this call's TURN
credentials) and the signaling URL, joins, waits for the call to connect and
for media from the other side, then prints one JSON line: the media it
received and the candidate pair its ICE agent nominated. It stays in the call
until its stdin closes.

aiortc gathers through one TURN URL only (the first it is given), so unlike a
browser it cannot try UDP, TCP and TLS in turn: ``--turn`` says which of the
app's TURN URLs to keep, as an aiortc device on such a network must be
configured (``madoguchi doctor`` tells which one works). Host candidates are the namespace's real addresses
(no loopback opt-in): the firewall, not the test, keeps them from working.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from dataclasses import asdict
from typing import Any

import httpx

from media.client import CallClient
from media.ice import IceServer

SCHEMES = {
    "udp": ("turn:", "transport=udp"),
    "tcp": ("turn:", "transport=tcp"),
    "tls": ("turns:", ":443"),
}


def keep_turn(urls: list[str], turn: str) -> list[str]:
    prefix, part = SCHEMES[turn]
    return [u for u in urls if not u.startswith("turn") or (u.startswith(prefix) and part in u)]


def nominated_pair(pc: Any) -> dict[str, Any]:
    """The pair aioice nominated for the call's transport (no public API exposes it)."""
    transport = pc.getTransceivers()[0].receiver.transport.transport
    connection = transport._connection  # aiortc's RTCIceTransport wraps an aioice Connection
    pair = connection._nominated[1]
    return {
        "local": pair.local_candidate.type,
        "remote": pair.remote_candidate.type,
        "localAddress": pair.local_candidate.host,
        "remoteAddress": pair.remote_candidate.host,
    }


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--room", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--turn", choices=sorted(SCHEMES), required=True)
    opts = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    for noisy in ("aiortc", "aioice", "websockets", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
        response = await http.get(
            f"{opts.base_url}/api/v1/rtc-config", params={"token": opts.token}
        )
        response.raise_for_status()
        rtc = response.json()
    servers = [
        IceServer(tuple(keep_turn(s["urls"], opts.turn)), s.get("username"), s.get("credential"))
        for s in rtc["iceServers"]
    ]
    client = CallClient(rtc["signalingUrl"], room=opts.room, token=opts.token, ice_servers=servers)
    await client.start()
    try:
        link = await asyncio.wait_for(client.wait_connected(), 60)
        stats = await asyncio.wait_for(link.wait_media(audio_frames=50), 60)
        result = {
            "video_frames": stats.video_frames,
            "audio_frames": stats.audio_frames,
            "pair": nominated_pair(link.pc),
            "stats": {k: v for k, v in asdict(stats).items() if k in ("connection_state",)},
        }
        print(json.dumps(result), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await client.leave()
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
