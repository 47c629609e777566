"""The staff pages of the tracker: list with filters, detail, status change."""

from __future__ import annotations

import re
from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from tracker_helpers import NOW, MiniCity, make_booking

from app.core.context import AppContext
from app.tracker.audit import Actor
from app.tracker.models import Application, AuditEntry
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


def test_assignment_and_due_date_are_set_on_the_detail_page(
    client: TestClient, ctx: AppContext, city: MiniCity
) -> None:
    _, fine, _ = seed(ctx, city)
    login(client)
    page = client.get(f"/staff/applications/{fine}", headers={"accept-language": "ja"})
    assert "担当と期限" in page.text and 'action="/staff/applications/' in page.text
    token = CSRF.search(page.text)
    assert token
    form = {
        "csrf_token": token.group(1),
        "department_id": str(city.dept_id),
        "assignee_id": str(city.staff_ids[1]),
        "due_date": "2026-12-24",
    }
    r = client.post(f"/staff/applications/{fine}/assignment", data=form, follow_redirects=False)
    assert r.status_code == 303
    with ctx.sessions() as session:
        app = session.get(Application, fine)
        assert app is not None
        assert (app.assignee_id, app.due_date) == (city.staff_ids[1], date(2026, 12, 24))
        kinds = [e.kind for e in app.events]
    assert kinds[-2:] == ["assigned", "due"]
    # The timeline names events in the staff member's language, not by their codes.
    shown = client.get(f"/staff/applications/{fine}", headers={"accept-language": "ja"}).text
    assert '<span data-kind="assigned">担当を変更</span>' in shown
    assert '<span data-kind="due">期限を変更</span>' in shown
    # Saving the same values again records nothing new; a bad date is refused.
    assert (
        client.post(
            f"/staff/applications/{fine}/assignment", data=form, follow_redirects=False
        ).status_code
        == 303
    )
    bad = client.post(
        f"/staff/applications/{fine}/assignment",
        data={**form, "due_date": "2026-13-40"},
        follow_redirects=False,
    )
    assert bad.status_code == 422
    with ctx.sessions() as session:
        app = session.get(Application, fine)
        assert app is not None and len(app.events) == len(kinds)


def test_the_list_pages_past_fifty(client: TestClient, ctx: AppContext, city: MiniCity) -> None:
    actor = Actor(city.staff_ids[0])
    with ctx.sessions() as session:
        svc = ApplicationService(session, StatusMail(session, ctx.links), NOW)
        for n in range(55):
            svc.open(NewApplication("転入届", f"住民 {n:02d}", city.dept_id), actor)
        session.commit()
    login(client)
    first = client.get("/staff/applications?q=住民", headers={"accept-language": "ja"}).text
    assert "55件" in first and "2ページ中1ページ目" in first
    assert first.count('<a href="/staff/applications/') == 50
    nxt = re.search(r'<a href="([^"]+)" rel="next">', first)
    assert nxt and "page=2" in nxt.group(1) and "q=" in nxt.group(1)
    second = client.get(nxt.group(1).replace("&amp;", "&")).text
    assert second.count('<a href="/staff/applications/') == 5
    assert 'rel="prev"' in second and 'rel="next"' not in second
    # The oldest five are on the second page (newest first).
    assert "住民 00" in second and "住民 00" not in first
