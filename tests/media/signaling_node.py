"""One signaling node in its own process, for the media tests.

Started inside the test's network namespace; binds 127.0.0.1 on a free port,
prints ``{"url": ...}`` on stdout once listening, and serves until SIGTERM
(graceful: 1012 to clients) or SIGKILL (a crash, which is what some tests want).
With ``--clock-start``/``--clock-since`` it runs on the test's ``OffsetClock``
(the same instant as the test's own), else on the system clock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from datetime import datetime

from app.core.clock import OffsetClock, SystemClock
from app.core.db import make_engine
from app.core.settings import Settings
from app.signaling_node import start_signaling
from signaling.core import CoreConfig


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--node", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--redis-url")
    parser.add_argument("--node-timeout", type=float)
    parser.add_argument("--database-url", help="write call events to this database")
    parser.add_argument("--clock-start", type=datetime.fromisoformat)
    parser.add_argument("--clock-since", type=float)
    opts = parser.parse_args(argv)
    clock = (
        SystemClock()
        if opts.clock_start is None
        else OffsetClock(opts.clock_start, since=opts.clock_since)
    )
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format=f"{opts.node} %(name)s %(message)s"
    )
    settings = Settings(mode="demo", secret_key=opts.secret, redis_url=opts.redis_url)
    config = (
        CoreConfig() if opts.node_timeout is None else CoreConfig(node_timeout=opts.node_timeout)
    )
    engine = make_engine(opts.database_url) if opts.database_url else None
    server = await start_signaling(
        settings,
        engine=engine,
        host="127.0.0.1",
        port=0,
        node=opts.node,
        config=config,
        clock=clock.now,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(json.dumps({"url": server.url}), flush=True)
    try:
        await stop.wait()
    finally:
        await server.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
