"""The app's settings, read into signaling's own ``NodeConfig``.

Signaling never reads ``Settings``; the composition root turns them into the
plain values a node takes (``app.main.start_signaling``).
"""

from __future__ import annotations

from app.core.settings import Settings
from signaling.actions import CoreConfig
from signaling.asyncio.runner import NodeConfig


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
