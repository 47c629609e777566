"""Migration 0014 moves the rings of tickets and hand-overs into one table and back."""

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
from sqlalchemy.orm import Session

from app.core.db import make_engine
from app.counter.models import HandoverRequest, HandoverStatus, QueueTicket, TicketStatus
from app.ops.migrate import alembic_config, upgrade_engine

BEFORE = "0013_staff_sessions"
NOW = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'rings.db'}")
        yield engine
        engine.dispose()
        return
    pg_url: str = request.getfixturevalue("pg_url")
    name = f"mdg_rings_{uuid.uuid4().hex[:10]}"
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


def downgrade_engine(engine: Engine, revision: str) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
        conn.commit()


def rows(engine: Engine, sql: str) -> set[tuple[Any, ...]]:
    with engine.connect() as conn:
        return {tuple(r) for r in conn.execute(text(sql))}


def test_rings_move_to_one_table_and_back(
    empty_engine: Engine, city_builder: Callable[[Session], Any]
) -> None:
    engine = empty_engine
    # Today's models write today's schema: the city is written at head, then
    # the database goes down to BEFORE as an older release would have left it.
    upgrade_engine(engine)
    with Session(engine) as session:
        city = city_builder(session)
        session.commit()
    downgrade_engine(engine, BEFORE)
    with Session(engine) as session:
        ticket = QueueTicket(
            day=NOW.date(), number=1, kiosk_id=city.kiosk_id, service_id=city.consult_id,
            priority=1, room_id="wi-1", status=TicketStatus.WAITING, queued_at=NOW,
            refused_by=[],
        )  # fmt: skip
        request = HandoverRequest(
            room_id="room-1", kind="handover", mode="cold", from_staff_id=city.admin_id,
            department_id=city.dept_id, context="", status=HandoverStatus.WAITING,
            queued_at=NOW, refused_by=[],
        )  # fmt: skip
        session.add_all([ticket, request])
        session.commit()
        t, r = ticket.id, request.id
    s0, s1, s2 = city.staff_ids[:3]
    later = NOW + timedelta(seconds=20)
    with engine.begin() as conn:
        insert = "({subject}, {staff}, :at, :later, '{result}', NULL)"
        conn.execute(
            text(
                "INSERT INTO queue_offers (ticket_id, staff_id, offered_at, expires_at, result,"
                " answered_at) VALUES "
                + ", ".join(
                    insert.format(subject=t, staff=staff, result=result)
                    for staff, result in ((s1, "declined"), (s0, "ringing"))
                )
            ),
            {"at": NOW, "later": later},
        )
        # The old tables let s0 ring for the hand-over as well.
        conn.execute(
            text(
                "INSERT INTO handover_offers (request_id, staff_id, offered_at, expires_at,"
                " result, answered_at) VALUES "
                + ", ".join(
                    insert.format(subject=r, staff=staff, result=result)
                    for staff, result in ((s2, "lapsed"), (s0, "ringing"))
                )
            ),
            {"at": NOW, "later": later},
        )

    upgrade_engine(engine)
    assert rows(
        engine, "SELECT kind, ticket_id, request_id, staff_id, result FROM ring_offers"
    ) == {
        ("ticket", t, None, s1, "declined"),
        ("ticket", t, None, s0, "ringing"),
        ("handover", None, r, s2, "lapsed"),
        # Two rings at one person are refused now: the hand-over's lapses
        # and the next round rings it again.
        ("handover", None, r, s0, "lapsed"),
    }
    ids = rows(engine, "SELECT id FROM ring_offers")
    assert len(ids) == 4 and all(i > 0 for (i,) in ids)

    downgrade_engine(engine, BEFORE)
    assert rows(engine, "SELECT ticket_id, staff_id, result FROM queue_offers") == {
        (t, s1, "declined"),
        (t, s0, "ringing"),
    }
    assert rows(engine, "SELECT request_id, staff_id, result FROM handover_offers") == {
        (r, s2, "lapsed"),
        (r, s0, "lapsed"),
    }
