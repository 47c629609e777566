"""Administrators view and export the audit log; other staff cannot."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from tracker_helpers import NOW, MiniCity, make_booking

from app.core.context import AppContext
from app.tracker.audit import Actor
from app.tracker.models import AuditEntry
from app.tracker.service import ApplicationService, NewApplication
from app.tracker.status_mail import StatusMail

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def login(client: TestClient, who: str) -> None:
    token = CSRF.search(client.get("/staff/login").text)
    assert token
    r = client.post(
        "/staff/login",
        data={"login": who, "password": "pw", "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303


def test_admins_see_and_export_the_log(client: TestClient, ctx: AppContext, city: MiniCity) -> None:
    with ctx.sessions() as session:
        svc = ApplicationService(session, StatusMail(session, ctx.links), NOW)
        app = svc.open(
            NewApplication("転入届", "山田", city.dept_id), Actor(city.staff_ids[0], "198.51.100.4")
        )
        svc.change_status(app, "in_progress", Actor(city.staff_ids[0], "198.51.100.4"))
        session.commit()
    login(client, "staff0")
    assert client.get("/admin/audit").status_code == 403
    client.cookies.clear()
    login(client, "admin")
    page = client.get("/admin/audit", headers={"accept-language": "ja"})
    assert page.status_code == 200 and "監査ログ" in page.text
    assert "status received -&gt; in_progress" in page.text and "198.51.100.4" in page.text
    filtered = client.get(f"/admin/audit?staff_id={city.admin_id}").text
    assert "198.51.100.4" not in filtered and "audit-log" in filtered
    export = client.get("/admin/audit.csv")
    assert export.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"), newline="")))
    changes = [r for r in rows if r["object_type"] == "application" and r["action"] == "change"]
    assert {r["detail"] for r in changes} >= {"opened", "status received -> in_progress"}
    assert {r["ip"] for r in changes} == {"198.51.100.4"}
    reads = [r for r in rows if r["object_type"] == "audit-log"]
    assert reads and all(r["staff_id"] == str(city.admin_id) for r in reads)


def test_reading_and_changing_a_consultation_record_is_audited(
    client: TestClient, ctx: AppContext, city: MiniCity
) -> None:
    with ctx.sessions() as session:
        b = make_booking(session, city.consult_id, city.staff_ids[0], NOW + timedelta(hours=1))
        session.commit()
        booking_id, code = b.id, b.code
    login(client, "staff0")
    page = client.get(f"/staff/bookings/{code}")
    assert page.status_code == 200
    token = CSRF.search(page.text)
    assert token
    r = client.post(
        f"/staff/bookings/{code}/notes",
        data={"notes": "住民票の件", "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    with ctx.sessions() as session:
        rows = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.object_type == "consultation")
            .order_by(AuditEntry.id)
        ).all()
        assert [(a.action, a.object_id, a.staff_id, a.ip) for a in rows] == [
            ("read", str(booking_id), city.staff_ids[0], "testclient"),
            ("change", str(booking_id), city.staff_ids[0], "testclient"),
        ]
