"""Staff console pages: login with CSRF, the live queue, notes and outcome, my week."""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.calls.models import CallEventRow, Consultation
from app.calls.staff_queue import CallState, EventView, call_state
from app.core.clock import FixedClock
from app.core.context import AppContext
from app.main import create_app
from scheduler.models import Booking, Staff, StaffLeave

TOKYO_OFFSET = timedelta(hours=9)


def jst(day: int, hour: int, minute: int = 0) -> datetime:
    """An aware UTC instant for a Japan wall-clock time in Nov/Dec 2026."""
    month = 11 if day >= 30 else 12
    return datetime(2026, month, day, hour, minute, tzinfo=UTC) - TOKYO_OFFSET


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def page_login(client: TestClient, who: str = "staff0", password: str = "pw") -> None:
    token = csrf_of(client.get("/staff/login").text)
    r = client.post(
        "/staff/login",
        data={"login": who, "password": password, "csrf_token": token, "next": "/staff"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


@pytest.fixture
def events_table(city_engine: tuple[Engine, Any]) -> Engine:
    """The city's database, whose ``call_events`` the signaling server writes."""
    return city_engine[0]


def add_event(
    engine: Engine, room: str, kind: str, at: datetime, pid: str | None, role: str | None
) -> None:
    with Session(engine) as session:
        session.add(
            CallEventRow(room=room, kind=kind, participant=pid, role=role, at=at, node="n1")
        )
        session.commit()


def add_booking(
    engine: Engine,
    staff_id: int,
    service_id: int,
    start: datetime,
    *,
    minutes: int = 30,
    name: str = "山田 花子",
) -> Booking:
    end = start + timedelta(minutes=minutes)
    booking = Booking(
        code="MDG-" + secrets.token_hex(3).upper(),
        room_id=secrets.token_hex(16),
        service_id=service_id,
        staff_id=staff_id,
        channel="online",
        start_at=start,
        end_at=end,
        busy_start=start,
        busy_end=end,
        status="confirmed",
        resident_name=name,
        resident_email="r@example.jp",
        locale="ja",
        created_at=start - timedelta(days=3),
        updated_at=start - timedelta(days=3),
    )
    with Session(engine, expire_on_commit=False) as session:
        session.add(booking)
        session.commit()
    return booking


# -- the state of a call, as plain data ---------------------------------------------


END = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def ev(kind: str, minute: int, pid: str | None = None, role: str | None = None) -> EventView:
    return EventView(kind, END - timedelta(minutes=60 - minute), pid, role)


@pytest.mark.parametrize(
    ("events", "outcome", "now", "expected"),
    [
        ([], None, END, CallState.NOT_YET),
        ([], None, END + timedelta(minutes=9), CallState.NOT_YET),
        ([], None, END + timedelta(minutes=10), CallState.NO_SHOW),
        ([ev("join", 1, "resident:X", "resident")], None, END, CallState.WAITING),
        ([ev("join", 1, "kiosk:1", "kiosk")], None, END + timedelta(hours=1), CallState.WAITING),
        ([ev("join", 1, "staff:1", "staff")], None, END - timedelta(minutes=5), CallState.NOT_YET),
        (
            [ev("join", 1, "resident:X", "resident"), ev("leave", 2, "resident:X", "resident")],
            None,
            END + timedelta(hours=1),
            CallState.NOT_YET,  # came, left before staff joined: not a no-show
        ),
        (
            [
                ev("join", 1, "resident:X", "resident"),
                ev("join", 2, "staff:1", "staff"),
                ev("call-start", 3),
                ev("reconnecting", 4, "resident:X", "resident"),
            ],
            None,
            END,
            CallState.IN_CALL,
        ),
        (
            [
                ev("join", 1, "resident:X", "resident"),
                ev("join", 2, "staff:1", "staff"),
                ev("call-start", 3),
                ev("leave", 4, "resident:X", "resident"),
                ev("leave", 5, "staff:1", "staff"),
            ],
            None,
            END,
            CallState.DONE,
        ),
        ([ev("call-start", 3), ev("call-end", 9, "staff:1", "staff")], None, END, CallState.DONE),
        ([], "completed", END - timedelta(hours=1), CallState.DONE),
        ([ev("join", 1, "resident:X", "resident")], "no-show", END, CallState.NO_SHOW),
    ],
)
def test_call_state(
    events: list[EventView], outcome: str | None, now: datetime, expected: CallState
) -> None:
    assert call_state(end=END, events=events, outcome=outcome, now=now) == expected


# -- login ----------------------------------------------------------------------------


def test_pages_require_login_and_come_back_after_it(client: TestClient, city) -> None:
    for path in ("/staff", "/staff/schedule", "/staff/bookings/MDG-XXXXXX"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/staff/login?next=")
    r = client.get("/staff/schedule?week=2026-12-07", follow_redirects=False)
    assert r.headers["location"] == "/staff/login?next=/staff/schedule%3Fweek%3D2026-12-07"
    page = client.get(r.headers["location"])
    assert 'value="/staff/schedule?week=2026-12-07"' in page.text
    r = client.post(
        "/staff/login",
        data={
            "login": "staff0",
            "password": "pw",
            "csrf_token": csrf_of(page.text),
            "next": "/staff/schedule?week=2026-12-07",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/staff/schedule?week=2026-12-07"


def test_login_page_flow_with_csrf_and_logout(client: TestClient, city) -> None:
    page = client.get("/staff/login")
    assert page.status_code == 200
    assert '<html lang="ja">' in page.text and 'for="login"' in page.text
    token = csrf_of(page.text)
    # Without the token: refused, and not logged in.
    r = client.post("/staff/login", data={"login": "staff0", "password": "pw"})
    assert r.status_code == 403
    assert client.get("/staff", follow_redirects=False).status_code == 303
    # A token from another browser (another CSRF cookie) is refused too.
    with TestClient(client.app) as other:
        other_token = csrf_of(other.get("/staff/login").text)
    r = client.post(
        "/staff/login", data={"login": "staff0", "password": "pw", "csrf_token": other_token}
    )
    assert r.status_code == 403
    # The right token logs in and lands on the queue.
    r = client.post(
        "/staff/login",
        data={"login": "staff0", "password": "pw", "csrf_token": token, "next": "/staff"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/staff"
    queue = client.get("/staff")
    assert queue.status_code == 200 and "本日の予約" in queue.text and "職員0" in queue.text
    # Logging out needs the form's token, then the pages need a login again.
    r = client.post("/staff/logout", data={"csrf_token": "forged"})
    assert r.status_code == 403
    client.post("/staff/logout", data={"csrf_token": csrf_of(queue.text)})
    assert client.get("/staff", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(("who", "password"), [("staff0", "wrong"), ("nobody", "pw")])
def test_wrong_password_gets_one_generic_message(
    client: TestClient, city, who: str, password: str
) -> None:
    token = csrf_of(client.get("/staff/login").text)
    r = client.post("/staff/login", data={"login": who, "password": password, "csrf_token": token})
    assert r.status_code == 401
    assert "ログインIDまたはパスワードが正しくありません。" in r.text
    assert client.get("/staff", follow_redirects=False).status_code == 303


def test_inactive_staff_cannot_log_in(client: TestClient, city, ctx: AppContext) -> None:
    with Session(ctx.engine) as s:
        staff = s.get(Staff, city.staff_ids[1])
        assert staff is not None
        staff.active = False
        s.commit()
    token = csrf_of(client.get("/staff/login").text)
    r = client.post("/staff/login", data={"login": "staff1", "password": "pw", "csrf_token": token})
    assert r.status_code == 401


def test_next_cannot_leave_the_site(client: TestClient, city) -> None:
    token = csrf_of(client.get("/staff/login").text)
    r = client.post(
        "/staff/login",
        data={"login": "staff0", "password": "pw", "csrf_token": token, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/staff"


def test_english_login_page(client: TestClient, city) -> None:
    page = client.get("/staff/login?lang=en")
    assert '<html lang="en">' in page.text and "Staff login" in page.text


# -- the queue ------------------------------------------------------------------------


def test_queue_states_follow_call_events_and_the_clock(
    client: TestClient, city, ctx: AppContext, clock: FixedClock, events_table: Engine
) -> None:
    engine = events_table
    me = city.staff_ids[0]
    absent = add_booking(engine, me, city.consult_id, jst(30, 10), name="来ない 人")
    done = add_booking(engine, me, city.consult_id, jst(30, 11), name="済んだ 人")
    talking = add_booking(engine, me, city.consult_id, jst(30, 12), name="話し中 人")
    waiting = add_booking(engine, me, city.consult_id, jst(30, 13), name="待っている 人")
    later = add_booking(engine, me, city.consult_id, jst(30, 15), name="後の 人")
    other = add_booking(engine, city.staff_ids[1], city.consult_id, jst(30, 15), name="別の 人")
    tomorrow = add_booking(engine, me, city.consult_id, jst(1, 10), name="明日の 人")

    resident = lambda b: f"resident:{b.code}"  # noqa: E731
    add_event(engine, done.room_id, "join", jst(30, 10, 58), resident(done), "resident")
    add_event(engine, done.room_id, "join", jst(30, 11, 1), "staff:1", "staff")
    add_event(engine, done.room_id, "call-start", jst(30, 11, 1), None, None)
    add_event(engine, done.room_id, "call-end", jst(30, 11, 25), "staff:1", "staff")
    add_event(engine, talking.room_id, "join", jst(30, 11, 59), resident(talking), "resident")
    add_event(engine, talking.room_id, "join", jst(30, 12, 2), "staff:1", "staff")
    add_event(engine, talking.room_id, "call-start", jst(30, 12, 2), None, None)
    add_event(engine, waiting.room_id, "join", jst(30, 12, 55), resident(waiting), "resident")

    # The clock jumps hours ahead below; this test is about the queue, not idle sessions.
    ctx.settings.session_idle_minutes = 24 * 60
    page_login(client)

    def states() -> dict[str, str]:
        html = client.get("/staff").text
        rows = re.findall(r'<tr data-code="([^"]+)" data-start="[^"]+" data-state="([^"]+)"', html)
        return dict(rows)

    clock.moment = jst(30, 10, 5)  # 10 minutes of grace after 10:30 have not passed
    assert states() == {
        absent.code: "not-yet",
        done.code: "done",
        talking.code: "in-call",
        waiting.code: "waiting",
        later.code: "not-yet",
    }
    assert other.code not in states() and tomorrow.code not in states()
    clock.moment = jst(30, 10, 40)
    assert states()[absent.code] == "no-show"
    html = client.get("/staff").text
    assert "待機中" in html and "通話中" in html and "終了" in html and "未参加" in html
    assert f'href="/staff/call/{waiting.code}"' in html
    # The department view shows colleagues' bookings as well.
    team = client.get("/staff?team=1").text
    assert other.code in team and "職員1" in team
    # A recorded outcome wins over the events.
    with Session(engine) as s:
        s.add(
            Consultation(
                room=later.room_id,
                booking_id=later.id,
                staff_id=me,
                notes="",
                outcome="no-show",
                updated_at=jst(30, 9),
            )
        )
        s.commit()
    assert states()[later.code] == "no-show"


# -- live updates (Server-Sent Events) -------------------------------------------------


class LiveServer:
    """The app on a real loopback socket: SSE streams cannot go through TestClient."""

    def __init__(self, ctx: AppContext) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        # Listening before the server runs: connections wait in the backlog,
        # so the test needs no "is it up yet" polling.
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(create_app(ctx), log_level="warning", timeout_graceful_shutdown=5)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> str:
        self.thread.start()
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(20)
        self.sock.close()


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    event, data = "message", ""
    for line in lines:
        if line == "":
            if data:
                yield event, json.loads(data)
            event, data = "message", ""
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()


def test_queue_events_stream_sends_a_change_when_a_call_event_arrives(
    ctx: AppContext, city, clock: FixedClock, events_table: Engine
) -> None:
    engine = events_table
    clock.moment = jst(30, 10, 50)
    booking = add_booking(engine, city.staff_ids[0], city.consult_id, jst(30, 11))
    with LiveServer(ctx) as url, httpx.Client(base_url=url, timeout=15) as http:
        r = http.post("/api/v1/auth/login", json={"login": "staff0", "password": "pw"})
        assert r.status_code == 200
        # A read timeout bounds every wait: a missing update fails, never hangs.
        with http.stream("GET", "/staff/queue/events", timeout=httpx.Timeout(15)) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = sse_events(stream.iter_lines())
            kind, data = next(events)
            assert kind == "snapshot"
            assert [(r["code"], r["state"]) for r in data["rows"]] == [(booking.code, "not-yet")]
            add_event(
                engine, booking.room_id, "join", jst(30, 10, 55), f"resident:{booking.code}",
                "resident",
            )  # fmt: skip
            kind, data = next(events)
            assert kind == "change"
            (row,) = data["rows"]
            assert row["code"] == booking.code and row["state"] == "waiting"
            assert row["state_label"] == "待機中"
            assert row["announce"] == "11:00 山田 花子さん：待機中"
            assert data["removed"] == []


def test_queue_events_need_a_login(client: TestClient, city) -> None:
    r = client.get("/staff/queue/events", follow_redirects=False)
    assert r.status_code == 303


# -- one booking: notes and outcome -----------------------------------------------------


def test_notes_and_outcome_are_saved(
    client: TestClient, city, ctx: AppContext, events_table: Engine
) -> None:
    engine = events_table
    booking = add_booking(engine, city.staff_ids[0], city.consult_id, jst(30, 11))
    page_login(client)
    page = client.get(f"/staff/bookings/{booking.code}")
    assert page.status_code == 200 and booking.code in page.text
    token = csrf_of(page.text)
    # Plain form post (no JS): redirect back with a notice.
    r = client.post(
        f"/staff/bookings/{booking.code}/notes",
        data={"notes": "転入届の書類を確認", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "メモを保存しました。" in client.get(r.headers["location"]).text
    # Autosave (fetch): JSON with the time it was saved.
    r = client.post(
        f"/staff/bookings/{booking.code}/notes",
        data={"notes": "転入届の書類を確認。住民票は後日", "csrf_token": token},
        headers={"accept": "application/json"},
    )
    assert r.status_code == 200 and r.json() == {"saved_at": "09:00"}
    # A referral must name its department; the error is shown next to the field.
    r = client.post(
        f"/staff/bookings/{booking.code}/outcome",
        data={"outcome": "referred", "referred_department_id": "", "csrf_token": token},
    )
    assert r.status_code == 422
    assert 'id="referred-error"' in r.text and "紹介先の課を選んでください。" in r.text
    r = client.post(
        f"/staff/bookings/{booking.code}/outcome",
        data={
            "outcome": "referred",
            "referred_department_id": str(city.dept_id),
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    with Session(engine) as s:
        record = s.query(Consultation).filter_by(booking_id=booking.id).one()
        assert record.notes == "転入届の書類を確認。住民票は後日"
        assert record.outcome == "referred" and record.referred_department_id == city.dept_id
        assert record.staff_id == city.staff_ids[0]
    page = client.get(f"/staff/bookings/{booking.code}").text
    assert 'value="referred" checked' in page
    # A post without the form's token is refused.
    r = client.post(f"/staff/bookings/{booking.code}/outcome", data={"outcome": "completed"})
    assert r.status_code == 403


def test_booking_of_another_service_is_forbidden(
    client: TestClient, city, events_table: Engine
) -> None:
    # staff1 has no skill for the capped service and is not assigned.
    booking = add_booking(events_table, city.staff_ids[0], city.capped_id, jst(30, 11))
    page_login(client, "staff1")
    r = client.get(f"/staff/bookings/{booking.code}")
    assert r.status_code == 403 and "権限がありません" in r.text
    assert client.get("/staff/bookings/MDG-NOPE99").status_code == 404


# -- my week and the calendar feed --------------------------------------------------------


def test_schedule_shows_the_week_with_bookings_and_leave(
    client: TestClient, city, ctx: AppContext, events_table: Engine
) -> None:
    engine = events_table
    me = city.staff_ids[0]
    add_booking(engine, me, city.consult_id, jst(1, 10), name="火曜 の人")
    add_booking(engine, me, city.consult_id, jst(7, 10), name="来週 の人")
    with Session(engine) as s:
        s.add(StaffLeave(staff_id=me, start_at=jst(3, 13), end_at=jst(3, 17), note="研修"))
        s.commit()
    page_login(client)
    html = client.get("/staff/schedule").text
    assert "2026年11月30日(月) – 2026年12月6日(日)" in html
    assert "火曜 の人" in html and "来週 の人" not in html
    assert "10:00〜10:30" in html and "研修" in html
    assert "08:30–12:00, 13:00–17:15" in html
    assert html.count('class="day') == 7
    nxt = client.get("/staff/schedule?week=2026-12-09").text  # any day picks its Monday
    assert "2026年12月7日(月)" in nxt and "来週 の人" in nxt


def test_regenerating_the_feed_link_revokes_the_old_one(client: TestClient, city) -> None:
    page_login(client)
    html = client.get("/staff/schedule").text
    old = re.search(r'id="feed-url" type="text" readonly value="([^"]+)"', html)
    assert old
    old_path = old.group(1).replace("http://127.0.0.1:8000", "")
    assert client.get(old_path).status_code == 200
    r = client.post(
        "/staff/feed/regenerate", data={"csrf_token": csrf_of(html)}, follow_redirects=False
    )
    assert r.status_code == 303
    html = client.get(r.headers["location"]).text
    new = re.search(r'id="feed-url" type="text" readonly value="([^"]+)"', html)
    assert new and new.group(1) != old.group(1)
    assert "古いリンクは使えなくなりました" in html
    assert client.get(old_path).status_code == 403
    assert client.get(new.group(1).replace("http://127.0.0.1:8000", "")).status_code == 200


def test_a_mistyped_address_gets_a_page_not_json(client: TestClient, city) -> None:
    page_login(client, "admin")
    for path in ("/staff/schedule?week=soon", "/admin/services/1/hours"):
        r = client.get(path)
        assert r.status_code == 400, path
        assert r.headers["content-type"].startswith("text/html")
        assert "入力内容に誤りがあります。" in r.text
    # Admin rows are addressed by a key (an id, or an interpreter language's
    # code): one that is not a row's is a page saying so.
    for path in ("/admin/services/abc", "/admin/services/999999"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("text/html")
        assert "見つかりません" in r.text
