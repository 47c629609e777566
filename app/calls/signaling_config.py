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
    """``settings`` as a node configuration; the keywords override them (tests, CLI flags)."""
    return NodeConfig(
        host=host or settings.signaling_host,
        port=settings.signaling_port if port is None else port,
        redis_url=settings.redis_url,
        key_prefix=key_prefix,
        node=node,
        core=core or CoreConfig(),
    )
