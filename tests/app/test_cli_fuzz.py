"""schemathesis with 8 workers against ``madoguchi serve`` (a subprocess), over HTTP.

Unlike tests/app/api/test_openapi_fuzz.py (in-process, one request at a
time), this drives the real server concurrently, as a city's systems and
residents do: on the embedded default (SQLite) and on PostgreSQL. The run
uses a staff API key and follows the schema's OpenAPI links (bookings to
their codes and tokens, kiosk tickets and applications to their ids), so the
operations needing real ids reach their logic.

It must show no server error (a request that waited for the database past
its bound would answer 503), no answer outside the schema, no request left
hanging (20 s client timeout: a network error fails the run), and a server
that shuts down cleanly. Response times are a benchmark's business:
bench/fuzz_server.py runs the same for longer, also fails any request over
2 s, and prints the figures in docs/benchmarks.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fuzz_runner import run_fuzz
from live_server import LiveServer

from tests.conftest import PG_ADMIN_DSN, unavailable

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

WORKERS = 8
# Per operation and phase; bounded so each backend stays within about three minutes.
MAX_EXAMPLES = 6


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """A database of its own, created empty: the server migrates and seeds it."""
    name = f"mdg_fuzz_{uuid.uuid4().hex[:10]}"
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


def _fuzz(server: LiveServer, tmp_path: Path) -> None:
    server.start()
    try:
        result = run_fuzz(server, tmp_path / "report", workers=WORKERS, max_examples=MAX_EXAMPLES)
    finally:
        code = server.stop()
    detail = f"{result.summary()}\n{result.output[-6000:]}\nserver log:\n{server.log_tail()}"
    # Links were followed: bookings, tickets and applications were made and used.
    assert result.statuses[201] > 0, detail
    assert result.server_errors == 0, detail
    assert result.failures == [], detail
    assert result.returncode == 0, detail
    assert "Traceback" not in server.log_text(), server.log_tail(200)
    assert code == 0, detail


def test_fuzz_embedded_sqlite(tmp_path: Path) -> None:
    _fuzz(LiveServer(tmp_path / "server"), tmp_path)


@pytest.mark.postgres
def test_fuzz_postgres(tmp_path: Path, fresh_pg_url: str) -> None:
    _fuzz(LiveServer(tmp_path / "server", database_url=fresh_pg_url), tmp_path)
