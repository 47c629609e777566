"""The small test city and the app around it: fixtures for every app and page test (tests/conftest.py registers them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.settings import Settings
from app.main import create_app
from scheduler.models import (
    Branch,
    City,
    Department,
    DepartmentHours,
    Kiosk,
    Service,
    Staff,
    StaffHours,
)

# Monday 2026-11-30 09:00 JST.
NOW = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
SECRET = "test-secret-" + "x" * 40
HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@dataclass
class MiniCity:
    dept_id: int
    consult_id: int  # 30 min + 10 min after, online+kiosk, three staff
    capped_id: int  # 30 min, daily cap 2, one staff
    staff_ids: list[int]
    admin_id: int
    kiosk_id: int


def weekday_hours(model: type[DepartmentHours] | type[StaffHours]) -> list:  # type: ignore[type-arg]
    rows = []
    for wd in range(5):
        rows.append(model(weekday=wd, start=time(8, 30), end=time(12, 0)))
        rows.append(model(weekday=wd, start=time(13, 0), end=time(17, 15)))
    return rows


def build_city(session: Session) -> MiniCity:
    session.add(
        City(
            id=1,
            name_ja="テスト市",
            name_en="Test City",
            close_public_holidays=True,
            close_year_end=True,
        )
    )
    dept = Department(
        slug="shimin",
        name_ja="市民課",
        name_en="Residents Division",
        hours=weekday_hours(DepartmentHours),
    )
    session.add(dept)
    session.flush()
    consult = Service(
        department_id=dept.id,
        slug="tennyu",
        name_ja="転入の相談",
        name_en="Moving in",
        duration_min=30,
        buffer_after_min=10,
        slot_step_min=30,
        channels="online,kiosk",
        min_notice_min=120,
        horizon_days=60,
        change_cutoff_min=120,
    )
    capped = Service(
        department_id=dept.id,
        slug="inkan",
        name_ja="印鑑登録の相談",
        name_en="Seal registration",
        duration_min=30,
        slot_step_min=30,
        channels="online",
        min_notice_min=60,
        horizon_days=30,
        daily_cap=2,
        change_cutoff_min=60,
    )
    session.add_all([consult, capped])
    session.flush()
    staff = []
    for i in range(3):
        s = Staff(
            login=f"staff{i}",
            display_name=f"職員{i}",
            email=f"s{i}@city.example",
            password_hash=HASHER.hash("pw"),
            hours=weekday_hours(StaffHours),
        )
        s.departments.append(dept)
        s.skills.append(consult)
        if i == 0:
            s.skills.append(capped)
        staff.append(s)
    admin = Staff(
        login="admin", display_name="管理者", password_hash=HASHER.hash("pw"), is_admin=True
    )
    session.add_all([*staff, admin])
    branch = Branch(slug="kita", name_ja="北支所", name_en="North Branch")
    kiosk = Kiosk(slug="kita-1", name="北支所1号機", branch=branch)
    session.add_all([branch, kiosk])
    session.flush()
    return MiniCity(dept.id, consult.id, capped.id, [s.id for s in staff], admin.id, kiosk.id)


@pytest.fixture
def city_engine(committing_engine: Engine) -> tuple[Engine, MiniCity]:
    with Session(committing_engine) as session:
        city = build_city(session)
        session.commit()
    return committing_engine, city


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def ctx(city_engine: tuple[Engine, MiniCity], clock: FixedClock) -> AppContext:
    engine, _ = city_engine
    settings = Settings(
        secret_key=SECRET, public_base_url="http://127.0.0.1:8000", database_url="sqlite://"
    )
    return AppContext(settings=settings, engine=engine, clock=clock)


@pytest.fixture
def city(city_engine: tuple[Engine, MiniCity]) -> MiniCity:
    return city_engine[1]


@pytest.fixture
def client(ctx: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx)) as c:
        yield c


@pytest.fixture
def city_builder() -> Callable[[Session], MiniCity]:
    """``build_city`` for tests that set up a database of their own."""
    return build_city
