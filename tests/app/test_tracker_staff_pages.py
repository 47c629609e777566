"""The staff pages of the tracker: list with filters, detail, status change."""

from __future__ import annotations

import re
from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from tracker_helpers import NOW, MiniCity, make_booking

from app.context import AppContext
from app.tracker.applications import AuditEntry
from app.tracker.audit import Actor
from app.tracker.record_builder import RecordBuilder
from app.tracker.service import ApplicationService, NewApplication
from app.tracker.status_mail import StatusMail

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def login(client: TestClient, who: str = "staff0") -> None:
    token = CSRF.search(client.get("/staff/login").text)
    assert token
    r = client.post(
        "/staff/login",
        data={"login": who, "password": "pw", "csrf_token": token.group(1), "next": "/staff"},
        follow_redirects=False,
    )
    assert r.status_code == 303


def seed(ctx: AppContext, city: MiniCity) -> tuple[int, int, str]:
    actor = Actor(city.staff_ids[0])
    with ctx.sessions() as session:
        b = make_booking(session, city.consult_id, city.staff_ids[0], NOW - timedelta(hours=2))
        record = RecordBuilder(session).sync_booking(b, NOW)
        svc = ApplicationService(session, StatusMail(session, ctx.links), NOW)
        late = svc.open(
            NewApplication("転入届", "山田 太郎", city.dept_id, due_date=date(2026, 11, 1)),
            actor,
            record=record,
        )
        fine = svc.open(NewApplication("児童手当", "佐藤 花子", city.dept_id), actor)
        session.commit()
        return late.id, fine.id, b.code


def test_list_filters_and_overdue_highlighting(
    client: TestClient, ctx: AppContext, city: MiniCity
) -> None:
    late, fine, _ = seed(ctx, city)
    login(client)
    page = client.get("/staff/applications", headers={"accept-language": "ja"})
    assert page.status_code == 200
    assert f"/staff/applications/{late}" in page.text and f"/staff/applications/{fine}" in page.text
    row = re.search(r'<tr class="overdue">.*?</tr>', page.text, re.S)
    assert row and "山田 太郎" in row.group(0) and "期限切れ" in row.group(0)
    assert page.text.count('class="overdue"') == 1
    only_late = client.get("/staff/applications?overdue=1").text
    assert "山田 太郎" in only_late and "佐藤 花子" not in only_late
    search = client.get("/staff/applications?q=花子").text
    assert "佐藤 花子" in search and "山田 太郎" not in search
    assert "export.csv?q=" in search


def test_detail_links_sessions_and_changes_status(
    client: TestClient, ctx: AppContext, city: MiniCity
) -> None:
    late, _, code = seed(ctx, city)
    login(client)
    page = client.get(f"/staff/applications/{late}")
    assert page.status_code == 200
    assert f"/staff/bookings/{code}" in page.text and "/status/" in page.text
    token = CSRF.search(page.text)
    assert token
    r = client.post(
        f"/staff/applications/{late}/status",
        data={"status": "completed", "csrf_token": token.group(1)},
    )
    assert r.status_code == 409
    r = client.post(
        f"/staff/applications/{late}/status",
        data={"status": "in_progress", "message": "確認します", "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    after = client.get(f"/staff/applications/{late}").text
    assert 'data-status="in_progress"' in after and "確認します" in after
    with ctx.sessions() as session:
        reads = session.scalars(
            select(AuditEntry.object_id).where(
                AuditEntry.action == "read", AuditEntry.object_type == "application"
            )
        ).all()
        assert reads.count(str(late)) == 2
    assert client.get("/staff/applications/999999").status_code == 404


def test_open_from_a_session_and_attach_another(
    client: TestClient, ctx: AppContext, city: MiniCity
) -> None:
    with ctx.sessions() as session:
        first = make_booking(session, city.consult_id, city.staff_ids[0], NOW - timedelta(hours=3))
        second = make_booking(session, city.consult_id, city.staff_ids[1], NOW - timedelta(hours=2))
        session.commit()
        codes = first.code, second.code
    login(client)
    token = CSRF.search(client.get("/staff/applications").text)
    assert token
    r = client.post(
        "/staff/applications",
        data={
            "procedure": "転入届",
            "resident_name": "山田 太郎",
            "resident_email": "taro@example.jp",
            "department_id": str(city.dept_id),
            "booking_code": codes[0],
            "csrf_token": token.group(1),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    detail_path = r.headers["location"]
    page = client.get(detail_path).text
    assert f"/staff/bookings/{codes[0]}" in page and f"/staff/bookings/{codes[1]}" not in page
    r = client.post(
        detail_path + "/sessions",
        data={"booking_code": codes[1], "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(detail_path).text
    assert f"/staff/bookings/{codes[0]}" in page and f"/staff/bookings/{codes[1]}" in page
