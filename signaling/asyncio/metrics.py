"""Prometheus metrics of a signaling node (process-wide, default registry).

Embedded in ``madoguchi serve`` they appear in the app's ``/metrics``; a
standalone node (``madoguchi signaling``) answers ``GET /metrics`` and
``GET /livez`` on its WebSocket port (``SignalingServer.http_request``).

The per-frame counts are plain integers (``FRAMES``) read by a collector at
scrape time: a prometheus_client ``Counter.inc`` takes a lock, which cost a
few per cent of a relayed message. Only the event loop's thread writes them.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter, Gauge
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

CONNECTIONS = Gauge("madoguchi_signaling_connections", "Open signaling WebSocket connections")
CONNECTIONS_TOTAL = Counter(
    "madoguchi_signaling_connections_accepted_total", "Signaling WebSocket connections accepted"
)
CONNECTIONS_REFUSED = Counter(
    "madoguchi_signaling_connections_refused_total",
    "Signaling WebSocket connections closed at once by the per-address limits (1013)",
    ["reason"],
)


class FrameCounts:
    __slots__ = ("received", "sent")

    def __init__(self) -> None:
        self.received = 0
        self.sent = 0


FRAMES = FrameCounts()


class _FrameCollector(Collector):
    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(
            "madoguchi_signaling_messages_received",
            "Frames received from clients",
            value=FRAMES.received,
        )
        yield CounterMetricFamily(
            "madoguchi_signaling_messages_sent", "Frames sent to clients", value=FRAMES.sent
        )


REGISTRY.register(_FrameCollector())
