"""The wrap-up and session record pages for a walk-in call (no booking)."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from tracker_helpers import NOW, MiniCity, add_event

from app.calls.models import Consultation
from app.core.context import AppContext
from app.counter.models import QueueTicket, TicketStatus
from app.tracker.models import ApplicationSession, AuditEntry, SessionRecord
from app.tracker.record_builder import RecordBuilder

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def login(client: TestClient, who: str) -> str:
    token = CSRF.search(client.get("/staff/login").text)
    assert token
    r = client.post(
        "/staff/login",
        data={"login": who, "password": "pw", "csrf_token": token.group(1), "next": "/staff"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = CSRF.search(client.get("/staff").text)
    assert page
    return page.group(1)


def walk_in(ctx: AppContext, city: MiniCity, answered_by: int) -> int:
    start = NOW - timedelta(hours=1)
    room = "wi-pages-1"
    staff = f"staff:{city.staff_ids[answered_by]}"
    with ctx.sessions() as session:
        session.add(
            QueueTicket(
                day=start.date(), number=7, kiosk_id=city.kiosk_id, service_id=city.consult_id,
                priority=1, room_id=room, status=TicketStatus.DONE, queued_at=start,
                staff_id=city.staff_ids[answered_by], accepted_at=start + timedelta(minutes=3),
                ended_at=start + timedelta(minutes=8), refused_by=[],
            )
        )  # fmt: skip
        add_event(session, room, "join", start, "kiosk:1", "kiosk")
        add_event(session, room, "join", start + timedelta(minutes=3), staff, "staff")
        add_event(session, room, "call-start", start + timedelta(minutes=3))
        add_event(session, room, "call-end", start + timedelta(minutes=8), staff, "staff")
        record = RecordBuilder(session).sync_walk_in(
            room, service_id=city.consult_id, kiosk_id=city.kiosk_id, started_at=start,
            now=NOW, queued_at=start,
        )  # fmt: skip
        session.commit()
        return record.id


def test_a_walk_in_is_wrapped_up_and_opens_an_application(
    client: TestClient, ctx: AppContext, city: MiniCity
) -> None:
    record_id = walk_in(ctx, city, answered_by=0)
    csrf = login(client, "staff0")
    url = f"/staff/records/{record_id}/wrapup"
    page = client.get(url, headers={"accept-language": "ja"})
    assert page.status_code == 200
    assert "予約なしの通話" in page.text and "受付番号 7" in page.text
    assert 'name="record_id"' in page.text
    # No outcome chosen: refused with the field named, nothing written.
    r = client.post(url, data={"outcome": "", "notes": "メモ", "csrf_token": csrf})
    assert r.status_code == 422 and 'id="outcome-error"' in r.text
    r = client.post(
        url,
        data={"outcome": "completed", "notes": "住民票を発行", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"{url}?saved=wrapup"
    with ctx.sessions() as session:
        record = session.get(SessionRecord, record_id)
        assert record is not None
        assert (record.outcome, record.notes) == ("completed", "住民票を発行")
        consultation = session.scalars(select(Consultation)).one()
        assert (consultation.room, consultation.booking_id) == (record.room, None)
    # The jobs loop's next passes keep what was recorded.
    with ctx.sessions() as session:
        RecordBuilder(session).sync_walk_ins(NOW + timedelta(minutes=5))
        session.commit()
        record = session.get(SessionRecord, record_id)
        assert record is not None
        assert (record.outcome, record.notes) == ("completed", "住民票を発行")
    r = client.post(
        "/staff/applications",
        data={
            "procedure": "転入届",
            "resident_name": "佐藤 花子",
            "department_id": str(city.dept_id),
            "record_id": str(record_id),
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    app_id = int(r.headers["location"].rsplit("/", 1)[1])
    with ctx.sessions() as session:
        link = session.scalars(select(ApplicationSession)).one()
        assert (link.application_id, link.record_id) == (app_id, record_id)
    detail = client.get(f"/staff/applications/{app_id}").text
    assert f'href="/staff/records/{record_id}"' in detail
    record_page = client.get(f"/staff/records/{record_id}", headers={"accept-language": "ja"})
    assert record_page.status_code == 200
    assert f'href="/staff/applications/{app_id}"' in record_page.text
    with ctx.sessions() as session:
        reads = session.scalars(
            select(AuditEntry.object_id).where(AuditEntry.object_type == "session-record")
        ).all()
        assert str(record_id) in reads


def test_only_who_may_wrap_it_up_writes_it(
    client: TestClient, ctx: AppContext, city: MiniCity
) -> None:
    # Answered by staff1; staff0 of the same department may read it, not wrap it up.
    record_id = walk_in(ctx, city, answered_by=1)
    csrf = login(client, "staff0")
    assert client.get(f"/staff/records/{record_id}").status_code == 200
    assert client.get(f"/staff/records/{record_id}/wrapup").status_code == 403
    r = client.post(
        f"/staff/records/{record_id}/wrapup", data={"outcome": "completed", "csrf_token": csrf}
    )
    assert r.status_code == 403
    assert client.get("/staff/records/999999").status_code == 404
