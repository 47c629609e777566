"""Helpers for the tracker tests: bookings and call events written directly."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from app.calls.models import CallEventRow
from scheduler.models import Booking

# The same instant and secret as tests/app/conftest.py (conftest modules are
# not importable by name when several test folders run together).
NOW = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
SECRET = "test-secret-" + "x" * 40


class MiniCity(Protocol):
    """The ``city`` fixture of tests/app/conftest.py, as far as these tests use it."""

    dept_id: int
    consult_id: int
    staff_ids: list[int]
    admin_id: int
    kiosk_id: int


_codes = itertools.count(1)


def make_booking(
    session: Session,
    service_id: int,
    staff_id: int,
    start: datetime,
    *,
    minutes: int = 30,
    kiosk_id: int | None = None,
    email: str | None = "taro@example.jp",
) -> Booking:
    n = next(_codes)
    end = start + timedelta(minutes=minutes)
    booking = Booking(
        code=f"TR{n:06d}",
        room_id=f"room-tracker-{n}-{start:%H%M}",
        service_id=service_id,
        staff_id=staff_id,
        channel="kiosk" if kiosk_id else "online",
        kiosk_id=kiosk_id,
        start_at=start,
        end_at=end,
        busy_start=start,
        busy_end=end,
        resident_name="山田 太郎",
        resident_email=email,
        locale="ja",
        created_at=start - timedelta(days=1),
        updated_at=start - timedelta(days=1),
    )
    session.add(booking)
    session.flush()
    return booking


def add_event(
    session: Session,
    room: str,
    kind: str,
    at: datetime,
    pid: str | None = None,
    role: str | None = None,
    node: str = "n1",
) -> None:
    session.add(
        CallEventRow(room=room, kind=kind, at=at, participant=pid, role=role, node=node, detail={})
    )
    session.flush()
