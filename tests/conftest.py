"""Shared fixtures: real SQLite and PostgreSQL databases, migrated by Alembic.

PostgreSQL tests use a database created for this run on 127.0.0.1:5432 and
dropped afterwards. Without a reachable server they are skipped, except under
``CI=true``, where a missing service is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.core.db import Base, make_engine
from app.ops.migrate import upgrade_engine

PG_ADMIN_DSN = os.environ.get("MADOGUCHI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(what: str, why: object) -> None:
    """Skip on a developer machine without the service; fail in CI."""
    message = f"{what} is not reachable ({why})"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    name = f"mdg_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        unavailable("PostgreSQL at " + PG_ADMIN_DSN, exc)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    upgrade_engine(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("db") / "madoguchi.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_engine(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """A migrated database; the test runs once per backend."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    result: Engine = request.getfixturevalue(name)
    return result


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session whose every commit is rolled back after the test (savepoints)."""
    with engine.connect() as conn:
        outer = conn.begin()
        session = Session(
            bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            session.close()
            outer.rollback()


def wipe(engine: Engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Append-only tables (audit_log) refuse TRUNCATE through triggers.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
        else:
            guards = list(
                conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))
            )
            guards = [(n, sql) for n, sql in guards if "append-only" in sql]
            for name, _ in guards:
                conn.execute(text(f'DROP TRIGGER "{name}"'))
            for t in tables:
                conn.execute(text(f'DELETE FROM "{t}"'))
            for _, sql in guards:
                conn.execute(text(sql))


@pytest.fixture
def committing_engine(engine: Engine) -> Iterator[Engine]:
    """For tests that need real commits (concurrency): tables emptied afterwards."""
    wipe(engine)
    yield engine
    wipe(engine)


# The app and page tests' city (tests/support/city_fixtures.py), for tests/app and tests/web alike.
from city_fixtures import city, city_builder, city_engine, client, clock, ctx  # noqa: E402, F401
