"""The choices of the call pages' hand-over form (templates/staff/_handover.html)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from scheduler.models import Department, Staff
from web.pages.staff.format import named

HEARTBEAT_URL = "/api/v1/staff/presence/heartbeat"


def handover_choices(session: Session, staff: Staff, locale: str) -> dict[str, Any]:
    """Departments, their active services (grouped) and the colleagues."""
    departments = list(
        session.scalars(
            select(Department)
            .options(selectinload(Department.services))
            .order_by(Department.sort_order, Department.id)
        )
    )
    services: list[tuple[str, list[tuple[int, int, str]]]] = []
    for dept in departments:
        items = [(s.id, dept.id, named(s, locale)) for s in dept.services if s.active]
        if items:
            services.append((named(dept, locale), items))
    colleagues = [
        (s.id, s.display_name)
        for s in session.scalars(select(Staff).where(Staff.active).order_by(Staff.id))
        if s.id != staff.id
    ]
    return {
        "departments": [(d.id, named(d, locale)) for d in departments],
        "handover_services": services,
        "colleagues": colleagues,
        "heartbeat_url": HEARTBEAT_URL,
    }
