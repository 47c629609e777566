"""Composition: build and run a signaling node from ``Settings``.

Used by the CLI (``madoguchi signaling`` standalone, ``madoguchi serve``
embedded)::

    server = await start_signaling(settings, engine=engine)  # binds and serves
    ...
    await server.close()  # 1012 to clients, flush events, close bus

    # or, until ``stop`` is set:
    await run_signaling(settings, engine=engine, stop=stop_event)

With ``settings.redis_url`` the node joins the others through Redis; without
it, an in-memory bus serves this process alone (the embedded default). With an
``engine`` call events go to the ``call_events`` table; without one they are
kept in memory (demo only: ended rooms are then forgotten on restart).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine

from app.core.settings import Settings
from app.core.tokens import Tokens
from signaling.auth import token_authenticator
from signaling.bus import Bus, Cluster, MemoryBus, MemoryRoomStore, RoomStore
from signaling.core import CoreConfig, SignalingCore
from signaling.events import EventSink, MemoryEventSink
from signaling.server import SignalingServer, utc_now

log = logging.getLogger(__name__)


def new_node_id() -> str:
    """Unique per process: a restarted node must not be taken for the old one."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"


async def start_signaling(
    settings: Settings,
    *,
    engine: Engine | None = None,
    host: str | None = None,
    port: int | None = None,
    node: str | None = None,
    config: CoreConfig | None = None,
    key_prefix: str = "madoguchi:",
    clock: Callable[[], datetime] = utc_now,
) -> SignalingServer:
    """Build a node from settings, start it and return the running server.

    ``clock`` is the time tokens are checked against and events are stamped
    with: the app's clock when the app embeds the node (tests choose it).
    """
    node = node or new_node_id()
    config = config or CoreConfig()
    sink: EventSink
    closers = []
    if engine is not None:
        from app.calls.events import SqlEventSink, ensure_table

        await asyncio.to_thread(ensure_table, engine)
        sql_sink = SqlEventSink(engine)
        closers.append(sql_sink.close)
        sink = sql_sink
    else:
        sink = MemoryEventSink()
    bus: Bus
    store: RoomStore
    if settings.redis_url:
        from signaling.redis_bus import RedisBus, RedisRoomStore

        redis_bus = RedisBus(settings.redis_url, name=f"madoguchi-signaling-{node}")
        bus, store = (
            redis_bus,
            RedisRoomStore(redis_bus.redis, prefix=key_prefix, ended_memory=config.ended_memory),
        )
    else:
        bus, store = MemoryBus(), MemoryRoomStore(ended_memory=config.ended_memory)
    closers.append(bus.close)
    cluster = Cluster(bus, store, node=node, prefix=key_prefix, alive_ttl=config.node_timeout)
    core = SignalingCore(
        node=node,
        authenticate=token_authenticator(Tokens(settings.effective_secret)),
        config=config,
        ended_rooms=await sink.ended_rooms(since=clock() - timedelta(seconds=config.ended_memory)),
    )
    server = SignalingServer(
        core,
        sink=sink,
        cluster=cluster,
        host=host or settings.signaling_host,
        port=settings.signaling_port if port is None else port,
        on_close=closers,
        clock=clock,
    )
    await server.start()
    return server


async def run_signaling(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    engine: Engine | None = None,
    host: str | None = None,
    port: int | None = None,
) -> None:
    """Serve until ``stop`` is set (or the task is cancelled), then shut down."""
    server = await start_signaling(settings, engine=engine, host=host, port=port)
    try:
        if stop is None:
            await asyncio.Event().wait()
        else:
            await stop.wait()
    finally:
        await server.close()
