"""Staff login, booking on behalf (代理予約), slips, calendar feeds, busy import."""

from __future__ import annotations

import vobject
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session
from tests_app_helpers import book, slot_starts  # type: ignore[import-not-found]

from app.core.context import AppContext
from scheduler.models import Staff

TEN = "2026-12-01T10:00:00+09:00"


def login(client: TestClient, who: str = "staff0", password: str = "pw") -> dict:  # type: ignore[type-arg]
    r = client.post("/api/v1/auth/login", json={"login": who, "password": password})
    assert r.status_code == 200, r.text
    return r.json()


def test_login_is_required_and_checks_the_password(client: TestClient, city) -> None:
    assert client.get("/api/v1/auth/me").status_code == 401
    r = client.post("/api/v1/auth/login", json={"login": "staff0", "password": "wrong"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad-credentials"
    r = client.post("/api/v1/auth/login", json={"login": "nobody", "password": "pw"})
    assert r.status_code == 401
    me = login(client)
    assert me["login"] == "staff0"
    assert client.get("/api/v1/auth/me").json()["id"] == me["id"]
    client.post("/api/v1/auth/logout")
    assert client.get("/api/v1/auth/me").status_code == 401


def test_booking_on_behalf_with_phone_only_and_a_printable_slip(client: TestClient, city) -> None:
    body = {
        "service_id": city.consult_id,
        "start": TEN,
        "name": "佐藤 一郎",
        "phone": "0120-123-456",
    }
    assert client.post("/api/v1/staff/bookings", json=body).status_code == 401
    login(client, "staff1")
    r = client.post("/api/v1/staff/bookings", json=body)
    assert r.status_code == 201, r.text
    out = r.json()
    slip = client.get(out["slip_url"].replace("http://127.0.0.1:8000", ""))
    assert slip.status_code == 200
    assert out["code"] in slip.text
    assert "2026年12月1日(火) 10:00〜10:30" in slip.text
    assert "<svg" in slip.text and "佐藤 一郎" in slip.text


def test_staff_feed_lists_bookings_and_can_be_revoked(
    client: TestClient, city, ctx: AppContext
) -> None:
    for _ in range(3):
        assert book(client, city.consult_id, TEN).status_code == 201
    feed_url = login(client, "staff2")["feed_url"]
    path = feed_url.replace("http://127.0.0.1:8000", "")
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    cal = vobject.readOne(r.text)
    events = cal.vevent_list
    assert len(events) == 1
    assert events[0].dtstart.value.isoformat() == "2026-12-01T10:00:00+09:00"
    with Session(ctx.engine) as s:
        s.execute(update(Staff).where(Staff.login == "staff2").values(feed_version=2))
        s.commit()
    assert client.get(path).status_code == 403


def test_imported_busy_time_removes_slots(client: TestClient, city) -> None:
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
        "BEGIN:VEVENT\r\nUID:m1@x\r\nDTSTAMP:20261101T000000Z\r\n"
        "DTSTART;TZID=Asia/Tokyo:20261201T090000\r\nDTEND;TZID=Asia/Tokyo:20261201T120000\r\n"
        "SUMMARY:研修\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert "2026-12-01T10:00:00+09:00" in slot_starts(client, city.consult_id, "2026-12-01")
    me = login(client, "staff0")
    for sid in city.staff_ids:
        if sid != me["id"]:
            # Only admins may change someone else's calendar.
            r = client.put(
                f"/api/v1/staff/{sid}/busy", content=ics, headers={"content-type": "text/calendar"}
            )
            assert r.status_code == 403
    client.post("/api/v1/auth/logout")
    login(client, "admin")
    for sid in city.staff_ids:
        r = client.put(
            f"/api/v1/staff/{sid}/busy", content=ics, headers={"content-type": "text/calendar"}
        )
        assert r.status_code == 200 and r.json()["imported"] == 1
    starts = slot_starts(client, city.consult_id, "2026-12-01")
    assert not any("T09:" in s or "T10:" in s or "T11:" in s for s in starts)
    assert (
        "2026-12-01T08:30:00+09:00" not in starts
    )  # its buffer ends at 09:10, inside the busy time
    assert "2026-12-01T13:00:00+09:00" in starts
    r = client.put(
        f"/api/v1/staff/{city.staff_ids[0]}/busy",
        content=b"not a calendar",
        headers={"content-type": "text/calendar"},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "calendar-parse-error"


def test_busy_times_sync_from_an_external_calendar_url(
    client: TestClient, city, ctx: AppContext
) -> None:
    import http.server
    import threading

    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
        "BEGIN:VEVENT\r\nUID:w@x\r\nDTSTAMP:20261101T000000Z\r\n"
        "DTSTART;TZID=Asia/Tokyo:20261201T130000\r\nDTEND;TZID=Asia/Tokyo:20261201T140000\r\n"
        "RRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:定例会議\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/cal.ics":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.end_headers()
            self.wfile.write(ics)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        with Session(ctx.engine) as s:
            s.execute(
                update(Staff)
                .where(Staff.id.in_(city.staff_ids))
                .values(busy_calendar_url=f"{base}/cal.ics")
            )
            s.commit()
        login(client, "admin")
        for sid in city.staff_ids:
            r = client.post(f"/api/v1/staff/{sid}/busy/sync")
            assert r.status_code == 200 and r.json()["imported"] == 4
        for day in ("2026-12-01", "2026-12-08"):
            starts = slot_starts(client, city.consult_id, day)
            assert f"{day}T13:00:00+09:00" not in starts
            assert f"{day}T14:00:00+09:00" in starts
        with Session(ctx.engine) as s:
            s.execute(
                update(Staff)
                .where(Staff.id == city.staff_ids[0])
                .values(busy_calendar_url=f"{base}/missing.ics")
            )
            s.commit()
        r = client.post(f"/api/v1/staff/{city.staff_ids[0]}/busy/sync")
        assert r.status_code == 422 and r.json()["error"]["code"] == "calendar-parse-error"
    finally:
        server.shutdown()
        server.server_close()


def test_staff_get_a_join_token_for_rooms_they_may_serve(
    client: TestClient, city, ctx: AppContext
) -> None:
    from app.core.tokens import Purpose

    out = book(client, city.capped_id, TEN).json()  # only staff0 has this skill
    login(client, "staff1")
    assert client.post(f"/api/v1/staff/bookings/{out['code']}/join").status_code == 403
    client.post("/api/v1/auth/logout")
    login(client, "staff0")
    r = client.post(f"/api/v1/staff/bookings/{out['code']}/join")
    assert r.status_code == 200
    ticket = r.json()
    claims = ctx.tokens.verify(Purpose.JOIN, ticket["token"], now=ctx.clock.now())
    assert claims["role"] == "staff" and claims["room"] == ticket["room"]
    resident = ctx.tokens.verify(
        Purpose.JOIN,
        out["join_url"].rsplit("/", 1)[1],
        now=ctx.clock.now().replace(day=1, month=12, hour=0, minute=50),
    )
    assert resident["room"] == ticket["room"] and resident["role"] == "resident"
    assert ticket["signaling_url"] == "ws://127.0.0.1:8765/ws"
