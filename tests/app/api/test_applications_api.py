"""The applications JSON API, CSV export and audit trail, on both backends."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from tracker_helpers import NOW, MiniCity, add_event, make_booking

from app.auth import api_keys
from app.core.context import AppContext
from app.tracker.models import Application, AuditEntry
from app.tracker.record_builder import RecordBuilder
from scheduler.models import Department, Service, Staff

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
BASE = "/api/v1/staff/applications"


def login(client: TestClient, who: str = "staff0") -> None:
    token = CSRF.search(client.get("/staff/login").text)
    assert token
    r = client.post(
        "/staff/login",
        data={"login": who, "password": "pw", "csrf_token": token.group(1), "next": "/staff"},
        follow_redirects=False,
    )
    assert r.status_code == 303


def create(client: TestClient, city: MiniCity, **extra: object) -> dict[str, object]:
    body = {"procedure": "転入届", "resident_name": "山田 太郎", "department_id": city.dept_id}
    r = client.post(BASE, json={**body, **extra})
    assert r.status_code == 201, r.text
    result: dict[str, object] = r.json()
    return result


def test_staff_only(client: TestClient) -> None:
    assert client.get(BASE).status_code in (401, 403)


def test_open_from_a_session_list_filter_search_and_transitions(
    client: TestClient, ctx: AppContext, city: MiniCity
) -> None:
    with ctx.sessions() as session:
        b = make_booking(session, city.consult_id, city.staff_ids[0], NOW - timedelta(hours=2))
        session.commit()
        booking_id = b.id
    login(client)
    first = create(
        client, city, booking_id=booking_id, notes="住民票 required", due_date="2026-11-20"
    )
    assert first["booking_ids"] == [booking_id] and len(first["session_record_ids"]) == 1  # type: ignore[arg-type]
    assert first["overdue"] is True and first["status"] == "received"
    second = create(client, city, resident_name="佐藤 花子", notes="児童手当の件")
    app_id = first["id"]
    # The same session cannot also belong to the second application.
    r = client.post(f"{BASE}/{second['id']}/sessions", json={"booking_id": booking_id})
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "record_id"
    with ctx.sessions() as session:
        other = make_booking(session, city.consult_id, city.staff_ids[1], NOW - timedelta(hours=3))
        session.commit()
        other_id = other.id
    r = client.post(f"{BASE}/{second['id']}/sessions", json={"booking_id": other_id})
    assert r.status_code == 200 and r.json()["booking_ids"] == [other_id]

    r = client.post(f"{BASE}/{app_id}/status", json={"status": "completed"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "illegal-transition"
    r = client.post(f"{BASE}/{app_id}/status", json={"status": "in_progress", "message": "確認中"})
    assert r.status_code == 200
    timeline = r.json()["timeline"]
    assert [(e["kind"], e["to_status"]) for e in timeline][-1] == ("status", "in_progress")
    r = client.post(f"{BASE}/{app_id}/assign", json={"assignee_id": city.staff_ids[1]})
    assert r.json()["assignee_id"] == city.staff_ids[1]

    def ids(**params: object) -> set[object]:
        r = client.get(BASE, params=params)
        assert r.status_code == 200, r.text
        return {a["id"] for a in r.json()["items"]}

    assert ids() == {app_id, second["id"]}
    assert ids(status="in_progress") == {app_id}
    assert ids(status="received") == {second["id"]}
    assert ids(assignee_id=city.staff_ids[1]) == {app_id}
    assert ids(overdue=True) == {app_id}
    assert ids(department_id=city.dept_id) == {app_id, second["id"]}
    assert ids(q="花子") == {second["id"]}
    assert ids(q="住民票") == {app_id}
    assert ids(q=str(first["reference"])[-5:]) == {app_id}
    assert ids(q="100%") == set()
    today = NOW.date()
    assert ids(created_from=today.isoformat(), created_to=today.isoformat()) == {
        app_id,
        second["id"],
    }
    assert ids(created_from=(today + timedelta(days=1)).isoformat()) == set()

    detail = client.get(f"{BASE}/{app_id}").json()
    assert detail["notes"] == "住民票 required"
    with ctx.sessions() as session:
        reads = session.scalars(
            select(AuditEntry).where(
                AuditEntry.object_type == "application", AuditEntry.action == "read"
            )
        ).all()
        assert [(a.object_id, a.staff_id, a.ip) for a in reads] == [
            (str(app_id), city.staff_ids[0], "testclient")
        ]
        changes = session.scalars(
            select(AuditEntry.detail).where(
                AuditEntry.object_id == str(app_id), AuditEntry.action == "change"
            )
        ).all()
        assert "status received -> in_progress" in changes


def test_csv_opens_in_excel_with_japanese_text(
    client: TestClient, ctx: AppContext, city: MiniCity
) -> None:
    login(client)
    create(client, city, notes='一行目\n二行目, "引用"', resident_name="山田 太郎")
    create(client, city, notes='=HYPERLINK("x")', resident_name="佐藤 花子")
    r = client.get(f"{BASE}/export.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf")
    text = r.content.decode("utf-8-sig")
    assert "\r\n" in text
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0][0] == "受付番号 reference"
    by_name = {row[2]: row for row in rows[1:]}
    assert by_name["山田 太郎"][8] == '一行目\n二行目, "引用"'
    assert by_name["佐藤 花子"][8].startswith("'=")
    assert by_name["山田 太郎"][4] == "市民課"
    with ctx.sessions() as session:
        assert session.scalar(select(AuditEntry.id).where(AuditEntry.action == "export"))
        assert len(session.scalars(select(Application.id)).all()) == 2


def test_the_api_is_in_openapi(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {BASE, f"{BASE}/{{application_id}}", f"{BASE}/{{application_id}}/status"} <= set(paths)
    assert "post" in paths[f"{BASE}/{{application_id}}/status"]


def test_bad_input_is_refused_with_the_field(client: TestClient, city: MiniCity) -> None:
    login(client)
    r = client.post(BASE, json={"procedure": "x", "resident_name": "y", "department_id": 99999})
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "department_id"
    assert client.get(f"{BASE}/99999").status_code == 404


def test_an_api_key_acts_as_its_staff_account(
    client: TestClient, ctx: AppContext, city: MiniCity
) -> None:
    key = api_keys.new_key()
    ctx.settings.api_keys = [api_keys.config_entry("staff0", key)]
    auth = {"Authorization": f"Bearer {key}"}
    made = client.post(
        BASE,
        json={"procedure": "転入届", "resident_name": "山田 太郎", "department_id": city.dept_id},
        headers=auth,
    )
    assert made.status_code == 201, made.text
    listed = client.get(BASE, headers=auth)
    assert listed.status_code == 200
    assert made.json()["id"] in [row["id"] for row in listed.json()["items"]]
    with ctx.sessions() as session:
        changes = session.scalars(
            select(AuditEntry).where(AuditEntry.object_id == str(made.json()["id"]))
        ).all()
        assert changes and {c.staff_id for c in changes} == {city.staff_ids[0]}
    # Basic credentials (a proxy's, say) are not an API key: the cookie still decides.
    assert client.get(BASE, headers={"Authorization": "Basic dXNlcjpwdw=="}).status_code == 401
    # A key nobody configured, or one whose account was switched off, is refused.
    assert client.get(BASE, headers={"Authorization": "Bearer mdgk_unknown"}).status_code == 401
    with ctx.sessions() as session:
        staff = session.scalars(select(Staff).where(Staff.login == "staff0")).one()
        staff.active = False
        session.commit()
    assert client.get(BASE, headers=auth).status_code == 401


def walk_in_record(
    session: Session, city: MiniCity, room: str, service_id: int | None = None, answered_by: int = 0
) -> int:
    """A walk-in call at the kiosk, answered by staff ``answered_by``: its record's id."""
    start = NOW - timedelta(hours=1)
    staff = f"staff:{city.staff_ids[answered_by]}"
    add_event(session, room, "join", start, "kiosk:1", "kiosk")
    add_event(session, room, "join", start + timedelta(minutes=2), staff, "staff")
    add_event(session, room, "call-start", start + timedelta(minutes=2))
    add_event(session, room, "call-end", start + timedelta(minutes=9), staff, "staff")
    record = RecordBuilder(session).sync_walk_in(
        room,
        service_id=service_id or city.consult_id,
        kiosk_id=city.kiosk_id,
        started_at=start,
        now=NOW,
        queued_at=start,
    )
    session.commit()
    return record.id


def test_sessions_of_either_kind_attach_by_record(
    client: TestClient, ctx: AppContext, city: MiniCity
) -> None:
    with ctx.sessions() as session:
        walk_in = walk_in_record(session, city, "wi-api-1")
        b = make_booking(session, city.consult_id, city.staff_ids[0], NOW - timedelta(hours=2))
        booked = RecordBuilder(session).sync_booking(b, NOW).id
        session.commit()
    login(client)
    # Opened from a walk-in's wrap-up: no booking, the session attached.
    first = create(client, city, record_id=walk_in)
    assert first["session_record_ids"] == [walk_in] and first["booking_ids"] == []
    [s] = first["sessions"]  # type: ignore[misc]
    assert (s["id"], s["kind"], s["channel"], s["booking_id"]) == (
        walk_in,
        "walk-in",
        "kiosk",
        None,
    )
    assert s["talk_seconds"] == 7 * 60 and s["wait_seconds"] == 2 * 60
    # A booked call's session, by its record, on the same application.
    r = client.post(f"{BASE}/{first['id']}/sessions", json={"record_id": booked})
    assert r.status_code == 200, r.text
    assert [(x["id"], x["kind"]) for x in r.json()["sessions"]] == [
        (booked, "booking"),
        (walk_in, "walk-in"),
    ]
    assert r.json()["booking_ids"] == [b.id]
    # A session belongs to one application.
    second = create(client, city, resident_name="佐藤 花子")
    r = client.post(f"{BASE}/{second['id']}/sessions", json={"record_id": walk_in})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid-application"
    assert r.json()["error"]["fields"][0]["field"] == "record_id"
    r = client.post(f"{BASE}/{second['id']}/sessions", json={"record_id": 999_999})
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "record_id"
    # Exactly one of the two names the session.
    for body in ({}, {"record_id": walk_in, "booking_id": b.id}):
        r = client.post(f"{BASE}/{second['id']}/sessions", json=body)
        assert r.status_code == 422 and "error" in r.json(), body
    r = client.post(BASE, json={"procedure": "x", "resident_name": "y",
                                "department_id": city.dept_id, "record_id": walk_in,
                                "booking_id": b.id})  # fmt: skip
    assert r.status_code == 422 and "error" in r.json()
    r = client.post(BASE, json={"procedure": "x", "resident_name": "y",
                                "department_id": city.dept_id, "record_id": 999_999})  # fmt: skip
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "record_id"
    timeline = client.get(f"{BASE}/{first['id']}").json()["timeline"]
    assert [e["kind"] for e in timeline].count("session-attached") == 2


def test_another_departments_walk_in_is_attached_only_by_who_took_it(
    client: TestClient, ctx: AppContext, city: MiniCity
) -> None:
    with ctx.sessions() as session:
        other = Department(slug="fukushi", name_ja="福祉課", name_en="Welfare")
        session.add(other)
        session.flush()
        service = Service(
            department_id=other.id, slug="kaigo", name_ja="介護の相談", name_en="Care",
            duration_min=30, slot_step_min=30, channels="kiosk", min_notice_min=0,
            horizon_days=30, change_cutoff_min=0,
        )  # fmt: skip
        session.add(service)
        session.flush()
        theirs = walk_in_record(session, city, "wi-api-2", service.id, answered_by=1)
        mine = walk_in_record(session, city, "wi-api-3", service.id, answered_by=0)
    login(client)
    app = create(client, city)
    r = client.post(f"{BASE}/{app['id']}/sessions", json={"record_id": theirs})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    # A walk-in answered across departments: the staff member who took it files it.
    r = client.post(f"{BASE}/{app['id']}/sessions", json={"record_id": mine})
    assert r.status_code == 200 and r.json()["session_record_ids"] == [mine]


def test_attaching_either_kind_is_documented(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert set(schemas["AttachIn"]["properties"]) == {"booking_id", "record_id"}
    assert "record_id" in schemas["ApplicationIn"]["properties"]
    kinds = schemas["SessionOut"]["properties"]["kind"]
    assert set(kinds["enum"]) == {"booking", "walk-in"}
    operation = spec["paths"][f"{BASE}/{{application_id}}/sessions"]["post"]
    for status in ("403", "404", "422"):
        ref = operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/Error", status
