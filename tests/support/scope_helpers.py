"""A second department for the scope tests: 環境課 with its own service and staff member."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from city_fixtures import HASHER, NOW, weekday_hours
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.core.links import Links
from app.tracker.audit import Actor
from app.tracker.models import Application
from app.tracker.service import ApplicationService, NewApplication
from app.tracker.status_mail import StatusMail
from scheduler.models import Booking, Department, DepartmentHours, Service, Staff, StaffHours


@dataclass(frozen=True)
class OtherDepartment:
    dept_id: int
    service_id: int
    staff_id: int  # login "kankyo0", password "pw"


def add_other_department(engine: Engine) -> OtherDepartment:
    with Session(engine) as session:
        dept = Department(
            slug="kankyo",
            name_ja="環境課",
            name_en="Environment Division",
            hours=weekday_hours(DepartmentHours),
        )
        session.add(dept)
        session.flush()
        service = Service(
            department_id=dept.id,
            slug="gomi",
            name_ja="ごみの相談",
            name_en="Waste",
            duration_min=30,
            slot_step_min=30,
            channels="online",
            min_notice_min=60,
            horizon_days=30,
            change_cutoff_min=60,
        )
        session.add(service)
        session.flush()
        person = Staff(
            login="kankyo0",
            display_name="環境職員",
            password_hash=HASHER.hash("pw"),
            hours=weekday_hours(StaffHours),
        )
        person.departments.append(dept)
        person.skills.append(service)
        session.add(person)
        session.commit()
        return OtherDepartment(dept.id, service.id, person.id)


_codes = itertools.count(1)


def add_booking(
    session: Session, service_id: int, staff_id: int, start: datetime | None = None
) -> Booking:
    n = next(_codes)
    # Half-hour steps from tomorrow on: one staff member's bookings never overlap.
    start = start or NOW + timedelta(days=1, minutes=30 * n)
    booking = Booking(
        code=f"SC{n:06d}",
        room_id=f"room-scope-{n}",
        service_id=service_id,
        staff_id=staff_id,
        channel="online",
        start_at=start,
        end_at=start + timedelta(minutes=30),
        busy_start=start,
        busy_end=start + timedelta(minutes=30),
        resident_name="山田 太郎",
        resident_email="taro@example.jp",
        locale="ja",
        created_at=NOW,
        updated_at=NOW,
    )
    session.add(booking)
    session.flush()
    return booking


def add_application(session: Session, links: Links, department_id: int) -> Application:
    svc = ApplicationService(session, StatusMail(session, links), NOW)
    return svc.open(
        NewApplication("転入届", "山田 太郎", department_id, "taro@example.jp", notes="メモ"),
        Actor(None, "127.0.0.1"),
    )
