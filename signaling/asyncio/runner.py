"""Build and run one signaling node from a plain ``NodeConfig``.

The node does not know where its configuration, its tokens or its event store
come from: the caller (the app's composition root, a test, a benchmark) passes
them in through the ports the core and the server own::

    server = await start_node(config, authenticate=check_join_token, sink=sink)
    ...
    await server.close()  # 1012 to clients, flush events, close bus and sink

    # or, until ``stop`` is set:
    await run_node(config, authenticate=check_join_token, sink=sink, stop=stop_event)

With ``config.redis_url`` the node joins the others through Redis; without it,
an in-memory bus serves this process alone (the embedded default). Without a
``sink`` call events are kept in memory (demo only: ended rooms are then
forgotten on restart).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from signaling.actions import Authenticate, CoreConfig, VerifyDocument
from signaling.asyncio.bus import Bus, Cluster, MemoryBus, MemoryRoomStore, RoomStore
from signaling.asyncio.redis_bus import RedisBus, RedisRoomStore
from signaling.asyncio.server import SignalingServer, utc_now
from signaling.core import SignalingCore
from signaling.events import EventSink, MemoryEventSink
from signaling.limits import TrustedProxies

log = logging.getLogger(__name__)

DEFAULT_PORT = 8765


def new_node_id() -> str:
    """Unique per process: a restarted node must not be taken for the old one."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """Everything a node needs to know, as plain values (no settings object)."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT  # 0 picks a free port (see ``SignalingServer.port``)
    redis_url: str | None = None
    key_prefix: str = "madoguchi:"  # Redis keys and channels of this deployment
    node: str | None = None  # None: a fresh ``new_node_id()``
    core: CoreConfig = field(default_factory=CoreConfig)
    # Proxies (addresses, networks, "*") whose X-Forwarded-For names the client.
    trusted_proxies: tuple[str, ...] = ()


async def start_node(
    config: NodeConfig,
    *,
    authenticate: Authenticate,
    sink: EventSink | None = None,
    on_close: Iterable[Callable[[], Awaitable[None]]] = (),
    clock: Callable[[], datetime] = utc_now,
    verify_document: VerifyDocument | None = None,
) -> SignalingServer:
    """Build a node, start it and return the running server.

    ``clock`` is the time tokens are checked against and events are stamped
    with: the app's clock when the app embeds the node (tests choose it).

    ``on_close`` are closers of resources the caller handed over (a database
    sink): the server runs them after it flushed the sink at shutdown.
    ``verify_document`` checks the signed token of a link staff push.
    """
    node = config.node or new_node_id()
    core_config = config.core
    events: EventSink = MemoryEventSink() if sink is None else sink
    closers = list(on_close)
    bus: Bus
    store: RoomStore
    if config.redis_url:
        redis_bus = RedisBus(config.redis_url, name=f"madoguchi-signaling-{node}")
        bus = redis_bus
        store = RedisRoomStore(
            redis_bus.redis, prefix=config.key_prefix, ended_memory=core_config.ended_memory
        )
    else:
        bus, store = MemoryBus(), MemoryRoomStore(ended_memory=core_config.ended_memory)
    closers.append(bus.close)
    cluster = Cluster(
        bus, store, node=node, prefix=config.key_prefix, alive_ttl=core_config.node_timeout
    )
    core = SignalingCore(
        node=node,
        authenticate=authenticate,
        verify_document=verify_document,
        config=core_config,
        ended_rooms=await events.ended_rooms(
            since=clock() - timedelta(seconds=core_config.ended_memory)
        ),
    )
    server = SignalingServer(
        core,
        sink=events,
        cluster=cluster,
        host=config.host,
        port=config.port,
        on_close=closers,
        clock=clock,
        trusted_proxies=TrustedProxies.parse(config.trusted_proxies),
    )
    await server.start()
    return server


async def run_node(
    config: NodeConfig,
    *,
    authenticate: Authenticate,
    sink: EventSink | None = None,
    on_close: Iterable[Callable[[], Awaitable[None]]] = (),
    verify_document: VerifyDocument | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until ``stop`` is set (or the task is cancelled), then shut down."""
    server = await start_node(
        config,
        authenticate=authenticate,
        sink=sink,
        on_close=on_close,
        verify_document=verify_document,
    )
    try:
        if stop is None:
            await asyncio.Event().wait()
        else:
            await stop.wait()
    finally:
        await server.close()
