"""Migration 0018 keys the consultation record (the wrap-up) by the call's room:
booked rows take their booking's room; walk-in rows go on the way back."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from tracker_helpers import make_booking

from app.core.db import make_engine
from app.ops.migrate import alembic_config, upgrade_engine

BEFORE = "0017_forms"
AFTER = "0018_call_wrapup"
NOW = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'wrapup.db'}")
        yield engine
        engine.dispose()
        return
    pg_url: str = request.getfixturevalue("pg_url")
    name = f"mdg_wrapup_{uuid.uuid4().hex[:10]}"
    admin_dsn = pg_url.rsplit("/", 1)[0] + "/test"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(pg_url.rsplit("/", 1)[0] + "/" + name)
    try:
        yield engine
    finally:
        engine.dispose()
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    if not down:
        upgrade_engine(engine, revision)
        return
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
        conn.commit()


INSERT = text(
    "INSERT INTO consultations (booking_id, staff_id, notes, outcome, updated_at) "
    "VALUES (:b, :s, 'memo', 'completed', :t)"
)


def test_booked_rows_take_their_room_and_walk_in_rows_need_none_of_a_booking(
    empty_engine: Engine, city_builder: Callable[[Session], Any]
) -> None:
    engine = empty_engine
    # The city is written through today's models, so at today's schema; going
    # down to BEFORE then leaves it as an older release would have stored it.
    migrate(engine, "head")
    with Session(engine) as session:
        city = city_builder(session)
        booking = make_booking(
            session, city.consult_id, city.staff_ids[0], NOW - timedelta(hours=1)
        )
        session.commit()
        booking_id, room, staff_id = booking.id, booking.room_id, city.staff_ids[0]
    migrate(engine, BEFORE, down=True)
    with engine.begin() as conn:
        conn.execute(INSERT, {"b": booking_id, "s": staff_id, "t": NOW})

    migrate(engine, AFTER)
    with engine.begin() as conn:
        got = conn.execute(text("SELECT booking_id, room, notes FROM consultations")).all()
        assert [tuple(r) for r in got] == [(booking_id, room, "memo")]
        conn.execute(
            text(
                "INSERT INTO consultations (room, staff_id, notes, updated_at) "
                "VALUES ('wi-walk-in', :s, 'walk-in memo', :t)"
            ),
            {"s": staff_id, "t": NOW},
        )
    # One wrap-up per call: a second row for the same room is refused.
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO consultations (room, staff_id, notes, updated_at) "
                "VALUES ('wi-walk-in', :s, '', :t)"
            ),
            {"s": staff_id, "t": NOW},
        )

    migrate(engine, BEFORE, down=True)
    with engine.connect() as conn:
        got = conn.execute(text("SELECT booking_id, notes FROM consultations")).all()
    assert [tuple(r) for r in got] == [(booking_id, "memo")]
