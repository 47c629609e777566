"""Cached configuration follows every administrative change, across processes."""

from __future__ import annotations

from datetime import time

from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, text, update
from sqlalchemy.orm import Session
from tests_app_helpers import slot_starts  # type: ignore[import-not-found]

from scheduler.config_cache import cache
from scheduler.models import City, DepartmentHours, Staff, StaffHours, bump_config, config_token

DAY = "2026-12-01"


def test_orm_changes_replace_the_token_and_slots_follow(
    client: TestClient, city, city_engine
) -> None:
    engine: Engine = city_engine[0]
    before = slot_starts(client, city.consult_id, DAY)
    assert "2026-12-01T08:30:00+09:00" in before
    with Session(engine) as s:
        token = config_token(s)
        # Staff start later on Tuesdays: a flush of StaffHours changes the token.
        for row in s.query(StaffHours).filter(
            StaffHours.weekday == 1, StaffHours.start == time(8, 30)
        ):
            row.start = time(9, 30)
        s.commit()
        assert config_token(s) != token
    after = slot_starts(client, city.consult_id, DAY)
    assert "2026-12-01T08:30:00+09:00" not in after
    assert "2026-12-01T09:30:00+09:00" in after


def test_bulk_orm_statements_replace_the_token(client: TestClient, city, city_engine) -> None:
    engine: Engine = city_engine[0]
    assert slot_starts(client, city.consult_id, DAY)
    with Session(engine) as s:
        s.execute(update(Staff).values(active=False))
        s.commit()
    assert slot_starts(client, city.consult_id, DAY) == []
    with Session(engine) as s:
        s.execute(update(Staff).values(active=True))
        s.execute(delete(DepartmentHours).where(DepartmentHours.weekday == 1))
        s.commit()
    assert slot_starts(client, city.consult_id, DAY) == []
    assert slot_starts(client, city.consult_id, "2026-12-02") != []


def test_city_closure_policy_is_cached_but_follows_changes(
    client: TestClient, city, city_engine
) -> None:
    engine: Engine = city_engine[0]
    # 2026-12-29 is in the year-end closure, a Tuesday.
    assert slot_starts(client, city.consult_id, "2026-12-29") == []
    with Session(engine) as s:
        s.execute(update(City).values(close_year_end=False))
        s.commit()
    assert slot_starts(client, city.consult_id, "2026-12-29") != []


def test_raw_sql_needs_an_explicit_bump(client: TestClient, city, city_engine) -> None:
    engine: Engine = city_engine[0]
    assert slot_starts(client, city.consult_id, DAY)
    with Session(engine) as s:
        s.execute(text("UPDATE staff SET active = :f"), {"f": False})
        s.commit()
    # Documented: raw SQL bypasses the hooks, so the cache still serves the old list…
    assert slot_starts(client, city.consult_id, DAY)
    with Session(engine) as s:
        bump_config(s)
        s.commit()
    # …until somebody bumps the token.
    assert slot_starts(client, city.consult_id, DAY) == []
    cache.clear()
