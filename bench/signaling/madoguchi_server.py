"""The madoguchi signaling server as a separate process for load.py.

Usage: python bench/signaling/madoguchi_server.py SECRET [REDIS_URL]
Prints ``PORT <n>`` once listening on 127.0.0.1; stops cleanly on SIGTERM.
The message-rate limit is raised so the bench measures relay capacity (PeerJS
has no such limit), and the load generator's address is exempt from the
per-address connection limits; everything else is the production configuration: the
in-memory bus of the embedded default, validation, the rooms and the events.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from app.core.settings import Settings
from app.signaling_node import start_signaling
from signaling.core import CoreConfig


async def main(secret: str, redis_url: str | None = None) -> None:
    logging.basicConfig(level=logging.WARNING)
    # The load generator opens every connection from 127.0.0.1: not counted
    # against the per-address limits (as the app's default exempts loopback).
    config = CoreConfig(rate=1e6, burst=1e6, exempt_addresses=frozenset({"127.0.0.1"}))
    settings = Settings(secret_key=secret, redis_url=redis_url)
    server = await start_signaling(settings, port=0, config=config)
    print(f"PORT {server.port}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.close()


if __name__ == "__main__":
    try:
        import uvloop  # installed with uvicorn[standard]; what production should run on
    except ImportError:
        asyncio.run(main(*sys.argv[1:3]))
    else:
        uvloop.run(main(*sys.argv[1:3]))
