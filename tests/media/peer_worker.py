"""A call participant in its own process, driven over stdin/stdout by a test.

Run inside the test's network namespace::

    python tests/media/peer_worker.py --room R --token T --url ws://127.0.0.1:P/ws [--url ...]

Each stdin line is a JSON command ``{"id": n, "cmd": ..., ...}``; each reply
is one stdout line ``{"id": n, "ok": {...}}`` or ``{"id": n, "error": "..."}``.
Commands run one at a time; waits are bounded by the caller's ``timeout``.
Logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from dataclasses import asdict
from typing import Any

from media.client import CallClient
from media.loopback import allow_loopback_candidates


async def execute(client: CallClient, cmd: str, args: dict[str, Any]) -> dict[str, Any]:
    if cmd == "wait-connected":
        link = await client.wait_connected(generation=int(args.get("generation", 0)))
        return {"peer": link.peer, "generation": link.generation}
    if cmd == "wait-media":
        link = await client.wait_connected(generation=int(args.get("generation", 0)))
        stats = await link.wait_media(
            video_above=int(args.get("video_above", -1)),
            audio_frames=int(args.get("audio_frames", 1)),
        )
        return asdict(stats)
    if cmd == "send":
        link = await client.wait_connected()
        await link.wait_channel_open()
        link.send(str(args["body"]))
        return {}
    if cmd == "recv":
        link = await client.wait_connected()
        return {"body": await link.messages.get()}
    if cmd == "ping":
        link = await client.wait_connected()
        return {"rtt_ms": await link.ping()}
    if cmd == "stats":
        summary = await client.stats()
        return {
            "joins": summary.joins,
            "resumes": summary.resumes,
            "socket_drops": summary.socket_drops,
            "url": client.url,
            "links": [asdict(each) for each in summary.links],
        }
    if cmd == "wait-resumed":
        resumes = int(args.get("resumes", 1))
        await client.wait_until(lambda: client.resumes >= resumes)
        return {"url": client.url}
    if cmd == "drop-socket":
        client.drop_socket()
        return {}
    if cmd == "leave":
        await client.leave()
        return {}
    raise ValueError(f"unknown command {cmd!r}")


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--room", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--url", action="append", required=True)
    opts = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="worker %(name)s %(levelname)s %(message)s"
    )
    for noisy in ("aiortc", "aioice", "websockets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    allow_loopback_candidates()

    client = CallClient(opts.url, room=opts.room, token=opts.token)
    await client.start()
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line := await reader.readline():
            request = json.loads(line)
            reply: dict[str, Any] = {"id": request.get("id")}
            try:
                reply["ok"] = await execute(client, request["cmd"], request)
            except Exception as exc:
                reply["error"] = f"{type(exc).__name__}: {exc}"
            print(json.dumps(reply), flush=True)
            if request["cmd"] == "leave":
                break
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
