"""Prometheus metrics at ``/metrics`` and the ``/livez`` and ``/readyz`` probes.

Counted as they happen (process-wide, prometheus_client's default registry):
HTTP requests by route template and status with a latency histogram, bookings
made, and, when signaling runs in this process (``madoguchi serve``), its
connections and messages (``signaling/asyncio/metrics.py``; a standalone node serves
its own ``/metrics``). Read from the database at scrape time, so every app
process reports the same city-wide numbers: the outbox backlog, calls active,
residents waiting and today's waits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

import redis
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.calls.models import CallEventRow
from app.core.context import AppContext
from app.core.outbox import OutboxMail
from app.ops.migrate import alembic_config
from scheduler.models import Booking

log = logging.getLogger(__name__)

HTTP_REQUESTS = Counter(
    "madoguchi_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "madoguchi_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BOOKINGS = Counter("madoguchi_bookings_total", "Bookings made", ["channel"])
WAIT_BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)


class RequestMetrics:
    """ASGI middleware: one count and one latency sample per HTTP request.

    The label is the route's template (``/api/v1/bookings/{token}``), never
    the raw path: paths carry tokens and would explode the label set.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None)
            if template is None:
                template = "/static" if scope["path"].startswith("/static/") else "unmatched"
            method = scope["method"]
            HTTP_REQUESTS.labels(method, template, str(status)).inc()
            HTTP_LATENCY.labels(method, template).observe(time.perf_counter() - started)


class DatabaseCollector(Collector):
    """City-wide figures read from the database at each scrape."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def describe(self) -> Iterator[Metric]:
        # Registering must not query the database (it may not be migrated yet).
        return iter(())

    def collect(self) -> Iterator[Metric]:
        try:
            yield from self._collect()
        except Exception as exc:
            # A scrape must still return the process metrics when the database is down.
            log.warning("metrics: database figures unavailable: %s", type(exc).__name__)

    def _collect(self) -> Iterator[Metric]:
        now = self.ctx.clock.now()
        since = now - timedelta(hours=24)
        with self.ctx.sessions() as session:
            backlog = session.scalar(
                select(func.count()).select_from(OutboxMail).where(OutboxMail.sent_at.is_(None))
            )
            oldest = session.scalar(
                select(func.min(OutboxMail.created_at)).where(OutboxMail.sent_at.is_(None))
            )
            by_status = session.execute(
                select(Booking.status, func.count())
                .where(Booking.start_at >= since, Booking.start_at < now + timedelta(hours=24))
                .group_by(Booking.status)
            ).all()
            events = session.execute(
                select(CallEventRow.room, CallEventRow.kind, CallEventRow.role, CallEventRow.at)
                .where(CallEventRow.at >= since)
                .order_by(CallEventRow.at, CallEventRow.id)
            ).all()
        yield GaugeMetricFamily("madoguchi_outbox_backlog", "Mails not yet sent", value=backlog)
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "madoguchi_outbox_oldest_pending_seconds", "Age of the oldest unsent mail", value=age
        )
        bookings = GaugeMetricFamily(
            "madoguchi_bookings_window",
            "Bookings starting within 24 hours of now, by status",
            labels=["status"],
        )
        for status, count in by_status:
            bookings.add_metric([status], count)
        yield bookings
        yield from _call_figures(events)


def _call_figures(events: Iterable[Any]) -> Iterator[Metric]:
    first_join: dict[str, Any] = {}
    started: dict[str, Any] = {}
    ended: set[str] = set()
    for room, kind, role, at in events:
        if kind == "join" and role != "staff":
            first_join.setdefault(room, at)
        elif kind == "call-start":
            started.setdefault(room, at)
        elif kind == "call-end":
            ended.add(room)
    active = sum(1 for room in started if room not in ended)
    waiting = sum(1 for room in first_join if room not in started and room not in ended)
    yield GaugeMetricFamily("madoguchi_calls_active", "Calls in progress", value=active)
    yield GaugeMetricFamily(
        "madoguchi_queue_waiting", "Residents in a waiting room, no staff yet", value=waiting
    )
    waits = sorted(
        (started[room] - first_join[room]).total_seconds() for room in started if room in first_join
    )
    buckets = [(str(b), sum(1 for w in waits if w <= b)) for b in WAIT_BUCKETS]
    buckets.append(("+Inf", len(waits)))
    yield HistogramMetricFamily(
        "madoguchi_wait_seconds_24h",
        "Waits from the resident joining to the call starting, last 24 hours",
        buckets=buckets,
        sum_value=sum(waits),
    )


def _migrations_at_head(ctx: AppContext) -> bool:
    script = ScriptDirectory.from_config(alembic_config(ctx.settings.database_url))
    with ctx.engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return current == set(script.get_heads())


router = APIRouter(tags=["operations"])


@router.get("/livez")
def livez() -> dict[str, str]:
    """The process answers: restart it only when this fails."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready; `checks` says why"}})
def readyz(request: Request) -> Response:
    """Send traffic here only when the database, its schema and Redis are usable."""
    ctx: AppContext = request.app.state.ctx
    checks: dict[str, str] = {}
    try:
        with ctx.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
        checks["migrations"] = "ok" if _migrations_at_head(ctx) else "not at head"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    if ctx.settings.redis_url:
        client = redis.Redis.from_url(ctx.settings.redis_url, socket_timeout=2)
        try:
            client.ping()
            checks["redis"] = "ok"
        except (OSError, redis.RedisError) as exc:
            checks["redis"] = f"unreachable: {type(exc).__name__}"
        finally:
            client.close()
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def install(app: Any, ctx: AppContext) -> None:
    """Mount the probes and /metrics; register this app's database collector once."""
    app.add_middleware(RequestMetrics)
    app.include_router(router)
    previous: DatabaseCollector | None = getattr(install, "_collector", None)
    if previous is not None:
        # A new app in this process (tests, reload) reports its own database.
        REGISTRY.unregister(previous)
    collector = DatabaseCollector(ctx)
    REGISTRY.register(collector)
    install._collector = collector  # type: ignore[attr-defined]
