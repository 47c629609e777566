"""Backups restore to equal data; ``madoguchi db upgrade`` runs on a live database.

The procedures are the ones docs/backup.md gives to administrators: pg_dump /
pg_restore for PostgreSQL, sqlite3 ``.backup`` for the embedded database.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session
from tests_app_helpers import book  # type: ignore[import-not-found]

from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.db import Base, make_engine
from app.core.settings import Settings
from app.main import create_app
from app.ops.migrate import alembic_config, upgrade, upgrade_engine

TEN = "2026-12-01T10:00:00+09:00"


def dump_tables(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            out[table.name] = [tuple(r) for r in conn.execute(select(table).order_by(*order))]
        out["alembic_version"] = [(MigrationContext.configure(conn).get_current_revision(),)]
    return out


def need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")


def plain_dsn(engine_or_url: Engine | str) -> str:
    url = (
        engine_or_url
        if isinstance(engine_or_url, str)
        else engine_or_url.url.render_as_string(hide_password=False)
    )
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def fresh_pg(pg_url: str) -> Iterator[str]:
    """An empty database next to the test database, dropped afterwards."""
    name = f"mdg_restore_{uuid.uuid4().hex[:10]}"
    admin_dsn = pg_url.rsplit("/", 1)[0] + "/test"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_backup_and_restore_give_equal_data(
    client: TestClient, city, ctx: AppContext, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    for hour in (10, 11, 13):
        assert book(client, city.consult_id, f"2026-12-01T{hour}:00:00+09:00").status_code == 201
    engine = ctx.engine
    before = dump_tables(engine)
    assert before["bookings"] and before["outbox"]
    if engine.dialect.name == "postgresql":
        need("pg_dump")
        need("pg_restore")
        target = request.getfixturevalue("fresh_pg")
        archive = tmp_path / "madoguchi.dump"
        subprocess.run(
            ["pg_dump", "--format=custom", "--file", str(archive), plain_dsn(engine)], check=True
        )
        subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", "--dbname", target, str(archive)],
            check=True,
        )
        restored = make_engine(target)
    else:
        need("sqlite3")
        live = engine.url.database
        assert live
        backup = tmp_path / "backup.db"
        subprocess.run(["sqlite3", live, f".backup '{backup}'"], check=True)
        restored_path = tmp_path / "restored" / "madoguchi.db"
        restored_path.parent.mkdir()
        shutil.copy(backup, restored_path)
        restored = make_engine(f"sqlite:///{restored_path}")
    try:
        assert dump_tables(restored) == before
    finally:
        restored.dispose()


@pytest.mark.postgres
def test_upgrade_on_a_live_database_waits_briefly_and_retries(
    fresh_pg: str,
    caplog: pytest.LogCaptureFixture,
    clock: FixedClock,
    city_builder: Callable[[Session], Any],
) -> None:
    engine = make_engine(fresh_pg)
    try:
        # Today's models write today's schema: the city is written at head, then
        # the database goes down to the release before this one ("0004").
        upgrade_engine(engine)
        with Session(engine) as s:
            city = city_builder(s)
            s.commit()
        cfg = alembic_config(fresh_pg)
        with engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0004")
            conn.commit()
        settings = Settings(secret_key="upgrade-test-" + "k" * 40, database_url=fresh_pg)
        ctx = AppContext(settings=settings, engine=engine, clock=clock)
        answers: list[int] = []
        stop = threading.Event()

        def traffic() -> None:
            # The release before this one keeps serving while the upgrade runs:
            # its reads of the tables the migrations alter (services, the
            # outbox) stand in for it, since today's code needs today's schema.
            with Session(engine) as s:
                while not stop.is_set():
                    try:
                        s.execute(text("SELECT count(*) FROM services")).scalar()
                        s.execute(text("SELECT count(*) FROM outbox")).scalar()
                        s.commit()
                        answers.append(200)
                    except Exception:
                        s.rollback()
                        answers.append(500)

        reader = threading.Thread(target=traffic)
        reader.start()
        # A long report holds a lock on the outbox: the migration must not queue
        # everyone behind it; it gives up after lock_timeout and retries.
        blocker = psycopg.connect(plain_dsn(fresh_pg))
        blocker.execute("LOCK TABLE outbox IN ACCESS SHARE MODE")
        caplog.set_level(logging.WARNING, logger="app.ops.migrate")
        done = threading.Event()
        failure: list[BaseException] = []

        def migrate() -> None:
            try:
                upgrade(fresh_pg)
            except BaseException as exc:  # reported below
                failure.append(exc)
            finally:
                done.set()

        migrator = threading.Thread(target=migrate)
        migrator.start()
        deadline = time.monotonic() + 60
        while "retrying" not in caplog.text:
            assert not done.is_set(), f"upgrade ended without waiting: {failure}"
            assert time.monotonic() < deadline, "upgrade never retried"
            time.sleep(0.05)
        blocker.rollback()
        blocker.close()
        assert done.wait(120)
        assert not failure, failure
        stop.set()
        reader.join(60)
        assert answers and set(answers) == {200}  # served throughout
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        assert current == ScriptDirectory.from_config(alembic_config(fresh_pg)).get_current_head()
        with TestClient(create_app(ctx)) as c:
            assert book(c, city.consult_id, TEN).status_code == 201  # the new schema works
    finally:
        engine.dispose()
