"""100 simultaneous requests for one slot: exactly as many succeed as staff are free.

Runs a real uvicorn server on a loopback port against SQLite and PostgreSQL,
then checks the database itself for overlapping bookings.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest
from server_helpers import ServerThread
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from app.core.context import AppContext

TEN = "2026-12-01T10:00:00+09:00"
REQUESTS = 100


@pytest.fixture
def base_url(ctx: AppContext) -> Iterator[str]:
    with ServerThread(ctx) as url:
        yield url


def overlapping_pairs(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM bookings a JOIN bookings b ON a.staff_id = b.staff_id "
                    "AND a.id < b.id AND a.status = 'confirmed' AND b.status = 'confirmed' "
                    "AND a.busy_start < b.busy_end AND b.busy_start < a.busy_end"
                )
            ).scalar_one()
        )


@pytest.mark.slow
def test_hundred_simultaneous_bookings_for_one_slot(base_url: str, city, city_engine) -> None:
    engine, _ = city_engine
    barrier = threading.Barrier(REQUESTS)

    def attempt(i: int) -> int:
        with httpx.Client(base_url=base_url, timeout=120) as client:
            barrier.wait()
            r = client.post(
                "/api/v1/bookings",
                json={
                    "service_id": city.consult_id,
                    "start": TEN,
                    "name": f"住民{i}",
                    "email": f"r{i}@example.jp",
                },
            )
            return r.status_code

    with ThreadPoolExecutor(REQUESTS) as pool:
        statuses = Counter(pool.map(attempt, range(REQUESTS)))
    free_staff = len(city.staff_ids)
    assert statuses == {201: free_staff, 409: REQUESTS - free_staff}
    assert overlapping_pairs(engine) == 0
    with engine.connect() as conn:
        per_staff = conn.execute(
            text(
                "SELECT staff_id, count(*) FROM bookings WHERE status = 'confirmed' "
                "GROUP BY staff_id"
            )
        ).all()
    assert sorted(n for _, n in per_staff) == [1] * free_staff


def test_database_refuses_an_overlap_written_behind_the_services_back(city, city_engine) -> None:
    engine, _ = city_engine
    row = (
        "INSERT INTO bookings (code, room_id, service_id, staff_id, channel, start_at, end_at, "
        "busy_start, busy_end, status, resident_name, locale, sequence, created_at, updated_at) "
        "VALUES (:code, :room, :svc, :staff, 'online', :s, :e, :s, :e, 'confirmed', 'x', 'ja', "
        "0, :s, :s)"
    )
    s1, e1 = datetime(2026, 12, 1, 1, tzinfo=UTC), datetime(2026, 12, 1, 2, tzinfo=UTC)
    s2, e2 = datetime(2026, 12, 1, 1, 30, tzinfo=UTC), datetime(2026, 12, 1, 2, 30, tzinfo=UTC)
    sqlite = engine.dialect.name == "sqlite"

    def param(v: datetime) -> object:
        return v.replace(tzinfo=None).isoformat(sep=" ") if sqlite else v

    staff = city.staff_ids[0]
    with engine.begin() as conn:
        conn.execute(
            text(row),
            {
                "code": "MDG-AAAAAA",
                "room": "r1",
                "svc": city.consult_id,
                "staff": staff,
                "s": param(s1),
                "e": param(e1),
            },
        )
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text(row),
            {
                "code": "MDG-BBBBBB",
                "room": "r2",
                "svc": city.consult_id,
                "staff": staff,
                "s": param(s2),
                "e": param(e2),
            },
        )
    # Another staff member, or a back-to-back booking, is fine.
    with engine.begin() as conn:
        conn.execute(
            text(row),
            {
                "code": "MDG-CCCCCC",
                "room": "r3",
                "svc": city.consult_id,
                "staff": city.staff_ids[1],
                "s": param(s2),
                "e": param(e2),
            },
        )
        conn.execute(
            text(row),
            {
                "code": "MDG-DDDDDD",
                "room": "r4",
                "svc": city.consult_id,
                "staff": staff,
                "s": param(e1),
                "e": param(e1.replace(hour=3)),
            },
        )
    assert overlapping_pairs(engine) == 0


def test_a_lost_deadlock_in_the_exclusion_check_counts_as_taken() -> None:
    """PostgreSQL may abort one of two racing inserts with 40P01 instead of 23P01."""
    from sqlalchemy.exc import OperationalError

    from scheduler.service import _is_lost_race

    class Orig(Exception):
        def __init__(self, sqlstate: str) -> None:
            super().__init__(sqlstate)
            self.sqlstate = sqlstate

    assert _is_lost_race(OperationalError("INSERT", {}, Orig("40P01")))
    assert _is_lost_race(OperationalError("INSERT", {}, Orig("40001")))
    assert not _is_lost_race(OperationalError("INSERT", {}, Orig("08006")))
    assert not _is_lost_race(IntegrityError("INSERT", {}, Orig("23505")))
