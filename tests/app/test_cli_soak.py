"""Mixed load for about a minute against ``madoguchi serve`` processes (the short soak).

Residents book and cancel, kiosks take tickets, staff members keep presence
and heartbeats, accept the walk-ins and join the calls over signaling, staff
consoles hold their SSE streams open, the jobs loops deliver mail to a real
SMTP server. Against the embedded default, and against PostgreSQL + Redis with
two app processes (each with its signaling node and jobs loop).

Afterwards: no 5xx, every 201 booking in the database exactly once with the
status the load left it in, no overlapping confirmed bookings, every outbox
mail delivered exactly once, no traceback in the servers' logs, a clean
shutdown, and memory flat after the warm-up (RSS growth under 10 %).
bench/soak.py runs the same for ten minutes (figures in docs/benchmarks.md).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from soak_load import SoakOutcome, run_soak

from tests.conftest import PG_ADMIN_DSN, unavailable

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

SECONDS = 75
REDIS_URL = os.environ.get("MADOGUCHI_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    name = f"mdg_soak_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        unavailable("PostgreSQL at " + PG_ADMIN_DSN, exc)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable("Redis at " + REDIS_URL, exc)
    return REDIS_URL


def _check(outcome: SoakOutcome) -> None:
    detail = outcome.summary()
    stats = outcome.stats
    # The load did what it says: bookings, cancellations, answered walk-ins, streams, mail.
    assert len(stats.booked) > 20, detail
    assert any(b.cancelled for b in stats.booked.values()), detail
    assert stats.calls_signalled > 0 and stats.kiosk_calls_joined > 0, detail
    assert stats.sse_events > 0, detail
    assert outcome.outbox_ids, detail
    assert outcome.rss_growth, detail
    assert outcome.problems() == [], detail


def test_soak_embedded_sqlite(tmp_path: Path) -> None:
    _check(run_soak(tmp_path, seconds=SECONDS))


@pytest.mark.postgres
@pytest.mark.redis
def test_soak_postgres_redis_two_processes(
    tmp_path: Path, fresh_pg_url: str, redis_url: str
) -> None:
    _check(
        run_soak(
            tmp_path, seconds=SECONDS, database_url=fresh_pg_url, redis_url=redis_url, processes=2
        )
    )
