"""The composition root of a signaling node: the app's settings, join-token and
document-token checks and call-event store wired into ``signaling.asyncio``.

``madoguchi serve`` embeds a node, ``madoguchi signaling`` runs one alone
(``app/cli.py``). Kept apart from ``app/main.py`` so that a node does not
import the whole web application to start (seconds of CPU, and memory it
never uses).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import Engine

from app.calls.events import SqlEventSink, ensure_table
from app.calls.signaling_auth import document_verifier, token_authenticator
from app.core.settings import Settings
from app.core.tokens import Tokens
from signaling.actions import CoreConfig
from signaling.asyncio.runner import NodeConfig, start_node
from signaling.asyncio.server import SignalingServer, utc_now
from signaling.events import EventSink


def node_config(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    node: str | None = None,
    core: CoreConfig | None = None,
    key_prefix: str = "madoguchi:",
) -> NodeConfig:
    """``settings`` as a node configuration; the keywords override them (tests, CLI
    flags). A ``core`` configuration is taken whole, limits included."""
    if core is None:
        core = CoreConfig(
            unjoined_per_address=settings.signaling_unjoined_per_address,
            connections_per_address_rate=settings.signaling_connections_per_second_per_address,
            connections_per_address_burst=settings.signaling_connection_burst_per_address,
            exempt_addresses=frozenset(settings.rate_limit_exempt_ips),
        )
    return NodeConfig(
        host=host or settings.signaling_host,
        port=settings.signaling_port if port is None else port,
        redis_url=settings.redis_url,
        key_prefix=key_prefix,
        node=node,
        core=core,
        trusted_proxies=tuple(settings.signaling_forwarded_allow_ips),
    )


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
    """Start a signaling node configured from ``settings`` (``madoguchi serve``
    embeds one, ``madoguchi signaling`` runs one alone).

    Join tokens and pushed document links are checked with the app's signed
    tokens; with an ``engine`` call events go to the ``call_events`` table,
    else they stay in memory. ``clock`` is the time tokens are checked
    against and events are stamped with: the app's clock when the app embeds
    the node (tests choose it).
    """
    sink: EventSink | None = None
    closers: list[Callable[[], Awaitable[None]]] = []
    if engine is not None:
        await asyncio.to_thread(ensure_table, engine)
        sql_sink = SqlEventSink(engine)
        sink = sql_sink
        closers.append(sql_sink.close)
    tokens = Tokens(settings.effective_secret)
    return await start_node(
        node_config(settings, host=host, port=port, node=node, core=config, key_prefix=key_prefix),
        authenticate=token_authenticator(tokens),
        verify_document=document_verifier(tokens),
        sink=sink,
        on_close=closers,
        clock=clock,
    )


async def run_signaling(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    engine: Engine | None = None,
    host: str | None = None,
    port: int | None = None,
) -> None:
    """Serve signaling until ``stop`` is set (or the task is cancelled), then shut down."""
    server = await start_signaling(settings, engine=engine, host=host, port=port)
    try:
        if stop is None:
            await asyncio.Event().wait()
        else:
            await stop.wait()
    finally:
        await server.close()
