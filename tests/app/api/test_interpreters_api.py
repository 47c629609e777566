"""Interpreters booked with the staff member: API, the database's guard, concurrency, on demand."""

from __future__ import annotations

import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from server_helpers import ServerThread
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from tests_app_helpers import book

from app.calls.signaling_auth import token_authenticator
from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.outbox import OutboxMail
from app.core.tokens import Purpose
from app.ops import jobs
from scheduler.interpreter_service import InterpreterService
from scheduler.models import Booking, Interpreter, InterpreterHours, InterpreterLanguage
from signaling.messages import Role

# Tuesday 2026-12-01 (the MiniCity clock is Monday 2026-11-30 09:00 JST).
TEN = "2026-12-01T10:00:00+09:00"
DAY = "2026-12-01"


@pytest.fixture
def interpreter_id(city_engine: tuple[Engine, Any]) -> int:
    """One Portuguese/English interpreter, weekday mornings 09:00-11:00."""
    engine, _ = city_engine
    with Session(engine) as session:
        session.add_all(
            [
                InterpreterLanguage(code="pt", name_ja="ポルトガル語", name_en="Portuguese"),
                InterpreterLanguage(code="en", name_ja="英語", name_en="English", sort_order=1),
                InterpreterLanguage(code="vi", name_ja="ベトナム語", name_en="Vietnamese"),
            ]
        )
        person = Interpreter(
            slug="silva",
            name="シルバ アナ",
            languages="en,pt",
            hours=[InterpreterHours(weekday=d, start=time(9), end=time(11)) for d in range(5)],
        )
        session.add(person)
        session.commit()
        return person.id


def availability(client: TestClient, service_id: int, **params: Any) -> Any:
    r = client.get(
        f"/api/v1/services/{service_id}/availability",
        params={"from": DAY, "to": DAY, **params},
    )
    return r


def test_slots_need_the_interpreter_free(
    client: TestClient, city: Any, interpreter_id: int
) -> None:
    plain = availability(client, city.consult_id).json()["slots"]
    assert len(plain) > 4 and all(s["available_interpreters"] is None for s in plain)
    r = availability(client, city.consult_id, interpreter_language="pt")
    assert r.status_code == 200
    slots = r.json()["slots"]
    assert [s["start"][11:16] for s in slots] == ["09:00", "09:30", "10:00", "10:30"]
    assert all(s["available_interpreters"] == 1 and s["available_staff"] == 3 for s in slots)
    # Nobody interprets Vietnamese; an unknown code is a clear 422.
    assert availability(client, city.consult_id, interpreter_language="vi").json()["slots"] == []
    bad = availability(client, city.consult_id, interpreter_language="xx")
    assert bad.status_code == 422 and "interpreter_language" in bad.text


def test_booking_reserves_the_interpreter_once(
    client: TestClient, ctx: AppContext, city: Any, interpreter_id: int
) -> None:
    r = book(client, city.consult_id, TEN, interpreter_language="pt", locale="en")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["interpreter_language"] == "pt" and body["interpreter"] == "ポルトガル語"
    # Three staff are free at ten, but the only interpreter is not.
    again = book(client, city.consult_id, TEN, interpreter_language="en")
    assert again.status_code == 409
    after = availability(client, city.consult_id, interpreter_language="pt").json()["slots"]
    assert [s["start"][11:16] for s in after] == ["09:00", "09:30", "10:30"]
    # Without an interpreter the time is still bookable with another staff member.
    assert book(client, city.consult_id, TEN).status_code == 201
    with Session(ctx.engine) as session:
        rows = session.scalars(select(Booking).order_by(Booking.id)).all()
        assert [b.interpreter_id for b in rows] == [interpreter_id, None]
        assert rows[0].staff_id != rows[1].staff_id
    # The .ics names the interpreter language.
    ics = client.get(body["ics_url"].removeprefix("http://127.0.0.1:8000"))
    assert ics.status_code == 200
    assert "Interpreter: Portuguese" in ics.text.replace("\r\n ", "")
    assert book(client, city.consult_id, TEN, interpreter_language="zz").status_code == 422


def test_rescheduling_keeps_the_interpreter(
    client: TestClient, ctx: AppContext, city: Any, interpreter_id: int
) -> None:
    body = book(client, city.consult_id, TEN, interpreter_language="pt").json()
    token = body["manage_url"].rsplit("/", 1)[-1]
    # 13:00: staff are free, the interpreter is not working.
    late = client.post(
        f"/api/v1/bookings/{token}/reschedule", json={"start": "2026-12-01T13:00:00+09:00"}
    )
    assert late.status_code == 409
    r = client.post(
        f"/api/v1/bookings/{token}/reschedule", json={"start": "2026-12-01T09:00:00+09:00"}
    )
    assert r.status_code == 200, r.text
    with Session(ctx.engine) as session:
        booking = session.scalars(select(Booking)).one()
        assert booking.interpreter_id == interpreter_id
        assert booking.start_at == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


def test_the_database_refuses_a_double_booked_interpreter(
    city: Any, city_engine: tuple[Engine, Any], interpreter_id: int
) -> None:
    engine, _ = city_engine
    row = (
        "INSERT INTO bookings (code, room_id, service_id, staff_id, channel, start_at, end_at, "
        "busy_start, busy_end, status, resident_name, locale, sequence, created_at, updated_at, "
        "interpreter_id, interpreter_language) "
        "VALUES (:code, :room, :svc, :staff, 'online', :s, :e, :s, :e, :status, 'x', 'ja', "
        "0, :s, :s, :interp, 'pt')"
    )
    s1, e1 = datetime(2026, 12, 1, 1, tzinfo=UTC), datetime(2026, 12, 1, 2, tzinfo=UTC)
    s2, e2 = datetime(2026, 12, 1, 1, 30, tzinfo=UTC), datetime(2026, 12, 1, 2, 30, tzinfo=UTC)
    sqlite = engine.dialect.name == "sqlite"

    def values(n: int, staff: int, s: datetime, e: datetime, status: str = "confirmed") -> Any:
        return {
            "code": f"MDG-AAAAA{n}",
            "room": f"r{n}",
            "svc": city.consult_id,
            "staff": staff,
            "s": s.replace(tzinfo=None).isoformat(sep=" ") if sqlite else s,
            "e": e.replace(tzinfo=None).isoformat(sep=" ") if sqlite else e,
            "status": status,
            "interp": interpreter_id,
        }

    with engine.begin() as conn:
        conn.execute(text(row), values(2, city.staff_ids[0], s1, e1))
    # Another staff member, the same interpreter, overlapping: refused.
    with pytest.raises(IntegrityError, match="interpreter"), engine.begin() as conn:
        conn.execute(text(row), values(3, city.staff_ids[1], s2, e2))
    # Back to back, or cancelled, is fine.
    with engine.begin() as conn:
        conn.execute(text(row), values(4, city.staff_ids[1], e1, e2))
        conn.execute(text(row), values(5, city.staff_ids[2], s2, e2, "cancelled"))


@pytest.mark.slow
def test_simultaneous_bookings_for_the_one_interpreter(
    ctx: AppContext, city: Any, city_engine: tuple[Engine, Any], interpreter_id: int
) -> None:
    """Three staff are free at ten, one interpreter: of 12 requests exactly one wins."""
    engine, _ = city_engine
    requests = 12
    barrier = threading.Barrier(requests)

    with ServerThread(ctx) as base_url:

        def attempt(i: int) -> int:
            with httpx.Client(base_url=base_url, timeout=120) as client:
                barrier.wait()
                r = client.post(
                    "/api/v1/bookings",
                    json={
                        "service_id": city.consult_id,
                        "start": TEN,
                        "name": f"住民{i}",
                        "email": f"r{i}@example.jp",
                        "interpreter_language": "pt",
                    },
                )
                return r.status_code

        with ThreadPoolExecutor(requests) as pool:
            statuses = Counter(pool.map(attempt, range(requests)))
    assert statuses == {201: 1, 409: requests - 1}
    with engine.connect() as conn:
        booked = conn.execute(
            text("SELECT interpreter_id FROM bookings WHERE status = 'confirmed'")
        ).all()
    assert booked == [(interpreter_id,)]


def test_an_interpreter_on_demand(
    client: TestClient, ctx: AppContext, city: Any, clock: FixedClock, interpreter_id: int
) -> None:
    url = "/api/v1/staff/interpreters/available"
    assert client.get(url, params={"language": "pt"}).status_code == 401
    login = client.post("/api/v1/auth/login", json={"login": "staff0", "password": "pw"})
    assert login.status_code == 200, login.text
    # Monday 09:00 JST: the interpreter works until 11:00.
    r = client.get(url, params={"language": "pt", "minutes": 30})
    assert r.status_code == 200, r.text
    assert [(i["id"], i["role"]) for i in r.json()] == [(interpreter_id, "interpreter")]
    assert r.json()[0]["free_until"].startswith("2026-11-30T09:30:00+09:00")
    assert client.get(url, params={"language": "vi"}).json() == []
    # Not for a call that would run past the end of their hours.
    assert client.get(url, params={"language": "pt", "minutes": 150}).json() == []
    # A booking with the interpreter at that time makes them busy.
    with Session(ctx.engine) as session:
        svc = InterpreterService(session, tz=ctx.tz)
        assert [f.interpreter_id for f in svc.free_now("en", clock.now())] == [interpreter_id]
    clock.moment = datetime(2026, 11, 29, 0, 0, tzinfo=UTC)  # booking made the day before
    nine = "2026-11-30T09:00:00+09:00"
    assert book(client, city.consult_id, nine, interpreter_language="pt").status_code == 201
    clock.moment = datetime(2026, 11, 30, 0, 10, tzinfo=UTC)
    assert client.get(url, params={"language": "pt"}).json() == []


def test_the_interpreter_is_told_joins_and_shows_in_the_console(
    client: TestClient, ctx: AppContext, city: Any, interpreter_id: int
) -> None:
    with Session(ctx.engine) as session:
        person = session.get(Interpreter, interpreter_id)
        assert person is not None
        person.email = "silva@interp.example"
        session.commit()
    body = book(client, city.consult_id, TEN, interpreter_language="pt").json()
    with Session(ctx.engine) as session:
        mail = session.scalars(
            select(OutboxMail).where(OutboxMail.to_addr == "silva@interp.example")
        ).one()
        booking = session.scalars(select(Booking)).one()
        staff_login = booking.staff.login
    assert mail.kind == "interpreter-booked" and "ポルトガル語" in mail.body
    assert mail.ics is not None and "BEGIN:VEVENT" in mail.ics
    link = re.search(r"http://127\.0\.0\.1:8000(/join/\S+)", mail.body)
    assert link
    # The interpreter's link opens the call page with role "interpreter".
    page = client.get(link.group(1))
    assert page.status_code == 200 and 'data-role="interpreter"' in page.text
    claims = ctx.tokens.verify(
        Purpose.JOIN, link.group(1).removeprefix("/join/"), now=datetime(2026, 12, 1, 1, tzinfo=UTC)
    )
    assert (claims["role"], claims["pid"]) == ("interpreter", f"interpreter:{interpreter_id}")
    # The signaling server admits it to the booking's room with the interpreter seat.
    admission = token_authenticator(ctx.tokens)(
        link.group(1).removeprefix("/join/"), datetime(2026, 12, 1, 1, tzinfo=UTC)
    )
    assert admission.role is Role.INTERPRETER and admission.display_name == "シルバ アナ"
    with Session(ctx.engine) as session:
        assert admission.room == session.scalars(select(Booking.room_id)).one()
    # The assigned staff member sees the interpreter on the booking page.
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/staff/login").text)
    assert token
    client.post(
        "/staff/login",
        data={"login": staff_login, "password": "pw", "csrf_token": token.group(1)},
    )
    console = client.get(f"/staff/bookings/{body['code']}?lang=ja")
    assert console.status_code == 200
    assert 'data-interpreter="pt"' in console.text and "ポルトガル語（シルバ アナ）" in console.text
    # Cancelling tells the interpreter too.
    manage = body["manage_url"].rsplit("/", 1)[-1]
    assert client.post(f"/api/v1/bookings/{manage}/cancel").status_code == 200
    with Session(ctx.engine) as session:
        kinds = session.scalars(
            select(OutboxMail.kind).where(OutboxMail.to_addr == "silva@interp.example")
        ).all()
    assert sorted(kinds) == ["interpreter-booked", "interpreter-cancelled"]


def test_resident_pages_book_with_an_interpreter(
    client: TestClient, ctx: AppContext, city: Any, interpreter_id: int
) -> None:
    days = client.get(f"/services/{city.consult_id}?interpreter=pt&lang=ja")
    assert days.status_code == 200
    assert '<select id="interpreter" name="interpreter">' in days.text
    assert '<option value="pt" selected>ポルトガル語</option>' in days.text
    assert f'href="/services/{city.consult_id}/day/{DAY}?interpreter=pt"' in days.text
    day = client.get(f"/services/{city.consult_id}/day/{DAY}?interpreter=pt&lang=ja")
    assert day.status_code == 200
    times = re.findall(r'\?start=[^"&]+&amp;interpreter=pt"', day.text)
    assert len(times) == 4  # 09:00 … 10:30, while the interpreter works
    plain = client.get(f"/services/{city.consult_id}/day/{DAY}?lang=ja")
    assert "interpreter=pt" not in plain.text and plain.text.count("time-button") > 4
    form = client.get(f"/services/{city.consult_id}/book?start={TEN}&interpreter=pt&lang=ja")
    assert form.status_code == 200
    assert 'name="interpreter" value="pt"' in form.text and "通訳(ポルトガル語)" in form.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    r = client.post(
        f"/services/{city.consult_id}/book",
        data={
            "csrf_token": token.group(1),
            "start": TEN,
            "channel": "online",
            "interpreter": "pt",
            "name": "山田 花子",
            "email": "hanako@example.jp",
            "phone": "",
            "mail_locale": "ja",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:500]
    jobs.run_once(ctx, None)  # the worker renders the confirmation's .ics
    with Session(ctx.engine) as session:
        booking = session.scalars(select(Booking)).one()
        assert (booking.interpreter_id, booking.interpreter_language) == (interpreter_id, "pt")
        mail = session.scalars(
            select(OutboxMail).where(OutboxMail.kind == "booking-confirmed")
        ).one()
    assert mail.ics is not None and "通訳: ポルトガル語" in mail.ics.replace("\r\n ", "")
