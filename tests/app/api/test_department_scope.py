"""Staff of another department see nothing of a department's bookings and applications.

Issue 18: the booking slip (finding 1) and every application route, JSON,
page and CSV export (finding 2) ignored departments on 7f1bcb1.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from scope_helpers import OtherDepartment, add_application, add_booking, add_other_department
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.context import AppContext
from app.core.outbox import OutboxMail
from app.tracker.models import Application, WebhookDelivery
from scheduler.models import Booking

BASE = "/api/v1/staff/applications"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def other(ctx: AppContext) -> OtherDepartment:
    return add_other_department(ctx.engine)


def login(client: TestClient, who: str) -> None:
    r = client.post("/api/v1/auth/login", json={"login": who, "password": "pw"})
    assert r.status_code == 200, r.text


def counts(ctx: AppContext) -> tuple[int, int]:
    with Session(ctx.engine) as session:
        return (
            session.scalar(select(func.count()).select_from(OutboxMail)) or 0,
            session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0,
        )


def test_the_slip_of_another_departments_booking_is_refused(
    client: TestClient, ctx: AppContext, city: Any, other: OtherDepartment
) -> None:
    with Session(ctx.engine) as session:
        code = add_booking(session, city.consult_id, city.staff_ids[1]).code
        session.commit()
    login(client, "kankyo0")
    slip = client.get(f"/api/v1/staff/bookings/{code}/slip")
    assert slip.status_code == 403
    assert "山田" not in slip.text
    login(client, "staff0")
    assert client.get(f"/api/v1/staff/bookings/{code}/slip").status_code == 200


def test_applications_of_another_department_cannot_be_read_listed_or_exported(
    client: TestClient, ctx: AppContext, city: Any, other: OtherDepartment
) -> None:
    with Session(ctx.engine) as session:
        app_id = add_application(session, ctx.links, city.dept_id).id
        own_id = add_application(session, ctx.links, other.dept_id).id
        session.commit()
    login(client, "kankyo0")
    assert client.get(f"{BASE}/{app_id}").status_code == 403
    listed = client.get(BASE, params={"department_id": city.dept_id}).json()
    assert listed["total"] == 0
    assert [a["id"] for a in client.get(BASE).json()["items"]] == [own_id]
    csv_text = client.get(f"{BASE}/export.csv").content.decode("utf-8-sig")
    assert csv_text.count("\r\n") == 2  # the header and the own department's one row
    assert "市民課" not in csv_text
    assert client.get(f"/staff/applications/{app_id}").status_code == 403
    page = client.get("/staff/applications").text
    assert f"/staff/applications/{app_id}" not in page
    login(client, "staff0")
    assert client.get(f"{BASE}/{app_id}").json()["notes"] == "メモ"


def test_another_department_cannot_change_status_reassign_or_attach(
    client: TestClient, ctx: AppContext, city: Any, other: OtherDepartment
) -> None:
    with Session(ctx.engine) as session:
        app_id = add_application(session, ctx.links, city.dept_id).id
        booking_id = add_booking(session, city.consult_id, city.staff_ids[1]).id
        session.commit()
    before = counts(ctx)
    login(client, "kankyo0")
    r = client.post(f"{BASE}/{app_id}/status", json={"status": "in_progress"})
    assert r.status_code == 403
    assert counts(ctx) == before  # no mail to the resident, no webhook
    r = client.post(f"{BASE}/{app_id}/assign", json={"department_id": other.dept_id})
    assert r.status_code == 403
    r = client.post(f"{BASE}/{app_id}/sessions", json={"booking_id": booking_id})
    assert r.status_code == 403
    token = CSRF.search(client.get("/staff").text)
    assert token
    r = client.post(
        f"/staff/applications/{app_id}/status",
        data={"status": "in_progress", "csrf_token": token.group(1)},
    )
    assert r.status_code == 403
    with Session(ctx.engine) as session:
        application = session.get(Application, app_id)
        assert application is not None
        assert application.status == "received" and application.department_id == city.dept_id


def test_no_application_can_be_opened_for_another_department_or_its_booking(
    client: TestClient, ctx: AppContext, city: Any, other: OtherDepartment
) -> None:
    with Session(ctx.engine) as session:
        booking = add_booking(session, city.consult_id, city.staff_ids[1])
        booking_id, code = booking.id, booking.code
        session.commit()
    login(client, "kankyo0")
    body = {"procedure": "転入届", "resident_name": "山田 太郎"}
    r = client.post(BASE, json={**body, "department_id": city.dept_id})
    assert r.status_code == 403
    # In the own department, but carrying another department's session with it.
    r = client.post(BASE, json={**body, "department_id": other.dept_id, "booking_id": booking_id})
    assert r.status_code == 403
    token = CSRF.search(client.get("/staff").text)
    assert token
    r = client.post(
        "/staff/applications",
        data={**body, "department_id": str(other.dept_id), "booking_code": code,
              "csrf_token": token.group(1)},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 403
    with Session(ctx.engine) as session:
        assert session.scalar(select(func.count()).select_from(Application)) == 0
        assert session.get(Booking, booking_id) is not None
    # Its own department's application, with its own booking, is fine.
    with Session(ctx.engine) as session:
        own = add_booking(session, other.service_id, other.staff_id).id
        session.commit()
    r = client.post(BASE, json={**body, "department_id": other.dept_id, "booking_id": own})
    assert r.status_code == 201
