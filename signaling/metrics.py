"""Prometheus metrics of a signaling node (process-wide, default registry).

Embedded in ``madoguchi serve`` they appear in the app's ``/metrics``; a
standalone node (``madoguchi signaling``) answers ``GET /metrics`` and
``GET /livez`` on its WebSocket port (``SignalingServer.http_request``).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

CONNECTIONS = Gauge("madoguchi_signaling_connections", "Open signaling WebSocket connections")
CONNECTIONS_TOTAL = Counter(
    "madoguchi_signaling_connections_accepted_total", "Signaling WebSocket connections accepted"
)
MESSAGES_IN = Counter("madoguchi_signaling_messages_received_total", "Frames received from clients")
MESSAGES_OUT = Counter("madoguchi_signaling_messages_sent_total", "Frames sent to clients")
