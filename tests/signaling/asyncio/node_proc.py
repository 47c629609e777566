"""Run one signaling node as its own process (for node-death tests).

Usage: python node_proc.py REDIS_URL KEY_PREFIX NODE_ID
Prints ``PORT <n>`` once listening, then serves until killed.
"""

from __future__ import annotations

import asyncio
import sys

from sig_helpers import FAST_CLUSTER, SECRET

from app.core.settings import Settings
from app.signaling_node import start_signaling


async def main(redis_url: str, prefix: str, node: str) -> None:
    settings = Settings(secret_key=SECRET, redis_url=redis_url)
    server = await start_signaling(
        settings, port=0, node=node, config=FAST_CLUSTER, key_prefix=prefix
    )
    print(f"PORT {server.port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
