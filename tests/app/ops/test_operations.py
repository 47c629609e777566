"""/metrics, /livez and /readyz of the app, against its real database."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.orm import Session
from tests_app_helpers import book  # type: ignore[import-not-found]

from app.calls.models import CallEventRow
from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.db import make_engine
from app.core.settings import Settings
from app.main import create_app


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_requests_are_counted_by_route_template_and_status(client: TestClient, city: Any) -> None:
    route = "/api/v1/bookings/{token}"
    before = sample("madoguchi_http_requests_total", method="GET", route=route, status="403")
    hist = sample("madoguchi_http_request_duration_seconds_count", method="GET", route=route)
    for _ in range(3):
        assert client.get("/api/v1/bookings/not-a-token").status_code == 403
    after = sample("madoguchi_http_requests_total", method="GET", route=route, status="403")
    assert after == before + 3
    assert (
        sample("madoguchi_http_request_duration_seconds_count", method="GET", route=route)
        == hist + 3
    )
    body = client.get("/metrics").text
    # Tokens never become labels: only templates appear.
    assert "not-a-token" not in body
    assert 'route="/api/v1/bookings/{token}"' in body


def test_bookings_outbox_and_calls_are_reported(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any
) -> None:
    made = sample("madoguchi_bookings_total", channel="online")
    assert book(client, city.consult_id, "2026-11-30T14:00:00+09:00").status_code == 201
    assert sample("madoguchi_bookings_total", channel="online") == made + 1
    now = clock.now()
    with Session(ctx.engine) as session:
        for room, events in {
            "room-a": [("join", "resident", 0), ("join", "staff", 60), ("call-start", None, 90)],
            "room-b": [("join", "resident", 0)],  # still waiting
            "room-c": [("join", "resident", 0), ("call-start", None, 400), ("call-end", None, 900)],
        }.items():
            for kind, role, seconds in events:
                session.add(
                    CallEventRow(
                        room=room,
                        kind=kind,
                        role=role,
                        participant=None,
                        at=now - timedelta(minutes=30) + timedelta(seconds=seconds),
                        node="n1",
                        detail={},
                    )
                )
        session.commit()
    client.get("/healthz")
    assert sample("madoguchi_outbox_backlog") == 1  # the confirmation mail
    assert sample("madoguchi_outbox_oldest_pending_seconds") == 0
    clock.moment += timedelta(minutes=5)
    assert sample("madoguchi_outbox_oldest_pending_seconds") == 300
    assert sample("madoguchi_bookings_window", status="confirmed") == 1
    assert sample("madoguchi_calls_active") == 1
    assert sample("madoguchi_queue_waiting") == 1
    assert sample("madoguchi_wait_seconds_24h_count") == 2
    assert sample("madoguchi_wait_seconds_24h_sum") == 490
    assert sample("madoguchi_wait_seconds_24h_bucket", le="120.0") == 1
    assert sample("madoguchi_wait_seconds_24h_bucket", le="600.0") == 2
    body = client.get("/metrics")
    assert body.headers["content-type"].startswith("text/plain")
    assert re.search(r"^madoguchi_calls_active 1\.0$", body.text, re.M)


def test_liveness_and_readiness(client: TestClient, city: Any) -> None:
    assert client.get("/livez").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "migrations": "ok"}


def test_not_ready_without_migrations_or_redis(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/empty.db"
    settings = Settings(database_url=url, secret_key="k" * 40, redis_url="redis://127.0.0.1:1/0")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x int)"))  # reachable, but never migrated
    with TestClient(create_app(AppContext(settings=settings, engine=engine))) as c:
        r = c.get("/readyz")
        assert c.get("/livez").status_code == 200
    engine.dispose()
    assert r.status_code == 503
    checks = r.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["migrations"] == "not at head"
    assert checks["redis"].startswith("unreachable")


@pytest.mark.redis
def test_ready_with_redis(ctx: AppContext, city: Any) -> None:
    ctx.settings.redis_url = os.environ.get("MADOGUCHI_TEST_REDIS", "redis://127.0.0.1:6379/0")
    with TestClient(create_app(ctx)) as c:
        r = c.get("/readyz")
    if r.json()["checks"].get("redis") != "ok":
        message = f"Redis at {ctx.settings.redis_url} is not reachable"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + "; CI=true requires it")
        pytest.skip(message)
    assert r.status_code == 200
