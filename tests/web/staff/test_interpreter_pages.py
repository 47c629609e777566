"""Interpreters on demand through the pages and the API: the kiosk's language
buttons, out-of-hours refusal, "call an interpreter" on the staff call pages,
the supervisor board, and the admin screens."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from interpreter_helpers import add_interpreters
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests_app_helpers import book

from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.outbox import OutboxMail
from app.counter.models import InterpreterCall, QueueTicket
from scheduler.models import CityClosure, Interpreter, InterpreterLanguage, Kiosk

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NOW = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # Monday 09:00 JST
MiniCity = Any


def kiosk_path(ctx: AppContext, kiosk_id: int) -> str:
    with ctx.sessions() as session:
        kiosk = session.get(Kiosk, kiosk_id)
        assert kiosk is not None
        return "/kiosk/" + ctx.links.kiosk_token(kiosk, expires=NOW + timedelta(days=30))


def api_token(path: str) -> str:
    return path.removeprefix("/kiosk/")


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def api_login(client: TestClient, who: str) -> None:
    r = client.post("/api/v1/auth/login", json={"login": who, "password": "pw"})
    assert r.status_code == 200, r.text


def page_login(client: TestClient, who: str = "admin") -> None:
    token = csrf_of(client.get("/staff/login").text)
    r = client.post(
        "/staff/login",
        data={"login": who, "password": "pw", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


# -- the kiosk --------------------------------------------------------------------------------


def test_kiosk_language_buttons_and_the_ticket_records_the_choice(
    client: TestClient, ctx: AppContext, city: MiniCity
) -> None:
    add_interpreters(ctx.engine)
    path = kiosk_path(ctx, city.kiosk_id)
    page = client.get(f"{path}/walk-in?lang=ja")
    assert page.status_code == 200
    assert "通訳が必要ですか？" in page.text
    # Each language in its own script, as a large button; none chosen yet.
    buttons = re.findall(
        r'data-language="(\w+)">\s*<span class="kiosk-choice-title">([^<]+)<', page.text
    )
    assert buttons == [("jsl", "手話"), ("pt", "Português"), ("vi", "Tiếng Việt")]
    assert 'name="interpreter_language"' not in page.text

    chosen = client.get(f"{path}/walk-in?lang=ja&interpreter=pt")
    assert 'aria-pressed="true"' in chosen.text and "通訳：Português" in chosen.text
    assert 'name="interpreter_language" value="pt"' in chosen.text
    r = client.post(
        f"{path}/walk-in/ticket?lang=ja",
        data={
            "service_id": str(city.consult_id),
            "interpreter_language": "pt",
            "csrf_token": csrf_of(chosen.text),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and "/ticket/" in r.headers["location"]
    ticket_page = client.get(r.headers["location"] + "?lang=ja")
    assert "通訳：Português" in ticket_page.text
    # An unknown code is ignored by the page and refused by the API.
    assert 'name="interpreter_language"' not in client.get(f"{path}/walk-in?interpreter=xx").text
    bad = client.post(
        f"/api/v1/kiosk/{api_token(path)}/tickets",
        json={"service_id": city.consult_id, "interpreter_language": "xx"},
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "unknown-interpreter-language"
    ok = client.post(
        f"/api/v1/kiosk/{api_token(path)}/tickets",
        json={"service_id": city.consult_id, "interpreter_language": "vi"},
    )
    assert ok.status_code == 201 and ok.json()["interpreter_language"] == "vi"
    with Session(ctx.engine) as session:
        got = session.scalars(select(QueueTicket.interpreter_language).order_by(QueueTicket.id))
        assert list(got) == ["pt", "vi"]


def test_the_ticket_api_refuses_outside_staffed_hours(
    client: TestClient, ctx: AppContext, city: MiniCity, clock: FixedClock
) -> None:
    path = kiosk_path(ctx, city.kiosk_id)
    url = f"/api/v1/kiosk/{api_token(path)}/tickets"
    body = {"service_id": city.consult_id}
    for moment in (
        datetime(2026, 11, 30, 3, 15, tzinfo=UTC),  # 12:15 JST, the lunch break
        datetime(2026, 11, 29, 1, 0, tzinfo=UTC),  # Sunday 10:00
        datetime(2026, 11, 23, 1, 0, tzinfo=UTC),  # Monday 10:00, 勤労感謝の日
        datetime(2026, 12, 29, 1, 0, tzinfo=UTC),  # Tuesday 10:00, the year-end closure
    ):
        clock.moment = moment
        r = client.post(url, json=body, headers={"Accept-Language": "en"})
        assert r.status_code == 409, moment
        assert r.json()["error"] == {
            "code": "outside-staffed-hours",
            "message": "Staff are not available at this time. "
            "Please book a time for a consultation.",
        }
    ja = client.post(url + "?lang=ja", json=body, headers={"Accept-Language": "ja"})
    assert ja.json()["error"]["message"].startswith("ただいまは受付時間外です")
    # A city closed day too; the same Wednesday at 10:00 otherwise takes tickets.
    clock.moment = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
    with Session(ctx.engine) as session:
        session.add(CityClosure(day=datetime(2026, 12, 2).date(), note="選挙"))
        session.commit()
    assert client.post(url, json=body).json()["error"]["code"] == "outside-staffed-hours"
    clock.moment = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
    assert client.post(url, json=body).status_code == 201
    with Session(ctx.engine) as session:
        assert session.scalar(select(QueueTicket.id).where(QueueTicket.day < NOW.date())) is None


def test_the_kiosk_page_shows_the_refusal(
    client: TestClient, ctx: AppContext, city: MiniCity, clock: FixedClock
) -> None:
    path = kiosk_path(ctx, city.kiosk_id)
    # The page was opened just before the lunch break; the ticket is taken after.
    page = client.get(f"{path}/walk-in?lang=ja")
    clock.moment = datetime(2026, 11, 30, 3, 1, tzinfo=UTC)  # 12:01 JST
    r = client.post(
        f"{path}/walk-in/ticket?lang=ja",
        data={"service_id": str(city.consult_id), "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"].endswith("/walk-in?problem=outside-staffed-hours")
    shown = client.get(r.headers["location"] + "&lang=ja")
    assert 'id="ticket-problem"' in shown.text
    assert "ただいまは受付時間外です。ご相談の予約をお取りください。" in shown.text
    # The problem parameter only picks a fixed message.
    assert 'id="ticket-problem"' not in client.get(f"{path}/walk-in?problem=<b>x</b>").text
    with Session(ctx.engine) as session:
        assert session.scalar(select(QueueTicket.id)) is None


# -- staff: accept, call, cancel ---------------------------------------------------------------


def _accepted_ticket(
    client: TestClient, staff: TestClient, path: str, city: MiniCity, language: str | None
) -> int:
    body: dict[str, Any] = {"service_id": city.consult_id}
    if language:
        body["interpreter_language"] = language
    ticket = client.post(f"/api/v1/kiosk/{api_token(path)}/tickets", json=body)
    assert ticket.status_code == 201, ticket.text
    offers = staff.get("/api/v1/staff/offers").json()["offers"]
    mine = [o for o in offers if o["ticket_id"] == ticket.json()["id"]]
    assert mine, offers
    accepted = staff.post(f"/api/v1/staff/offers/{mine[0]['id']}/accept")
    assert accepted.status_code == 200, accepted.text
    return int(ticket.json()["id"])


def test_accepting_a_call_that_needs_an_interpreter_calls_one(
    client: TestClient, ctx: AppContext, city: MiniCity
) -> None:
    ids = add_interpreters(ctx.engine)
    path = kiosk_path(ctx, city.kiosk_id)
    staff = TestClient(client.app)
    api_login(staff, "staff0")
    assert staff.put("/api/v1/staff/presence", json={"status": "available"}).status_code == 200
    ticket_id = _accepted_ticket(client, staff, path, city, "vi")
    with Session(ctx.engine) as session:
        call = session.scalars(select(InterpreterCall)).one()
        assert (call.interpreter_id, call.language, call.ticket_id) == (
            ids["nguyen"],
            "vi",
            ticket_id,
        )
        mail = session.scalars(
            select(OutboxMail).where(OutboxMail.kind == "interpreter-called")
        ).one()
        assert mail.to_addr == "nguyen@interp.example" and "/join/" in mail.body
    # The call page says who was called, with a way to withdraw the request.
    page = staff.get(f"/staff/counter/call/{ticket_id}?lang=ja")
    assert page.status_code == 200
    assert "住民の方が端末で通訳を希望しています：ベトナム語" in page.text
    assert "グエン さん（ベトナム語）を呼び出しました" in page.text
    assert f'data-url="/api/v1/staff/interpreter-calls/{call.id}"' in page.text
    assert 'src="/static/js/pages/staff-counter-call.js"' in page.text
    # The emailed link opens the join page of the walk-in room, as an interpreter.
    token = re.search(r"/join/(\S+)", mail.body)
    assert token
    join = TestClient(client.app).get(f"/join/{token.group(1)}?lang=ja")
    assert join.status_code == 200, join.text
    assert 'data-role="interpreter"' in join.text
    assert f'data-room="{call.room_id}"' in join.text and "受付番号 1" in join.text

    # Finishing the ticket releases the interpreter; the link then says the call ended.
    assert staff.post(f"/api/v1/staff/counter/tickets/{ticket_id}/finish").status_code == 204
    with Session(ctx.engine) as session:
        released = session.scalars(select(InterpreterCall)).one()
        assert released.release_reason == "ticket-done"
    assert TestClient(client.app).get(f"/join/{token.group(1)}").status_code == 410


def test_staff_call_an_interpreter_or_see_that_nobody_is_free(
    client: TestClient, ctx: AppContext, city: MiniCity
) -> None:
    ids = add_interpreters(ctx.engine)
    path = kiosk_path(ctx, city.kiosk_id)
    staff = TestClient(client.app)
    api_login(staff, "staff0")
    staff.put("/api/v1/staff/presence", json={"status": "available"})
    ticket_id = _accepted_ticket(client, staff, path, city, None)
    page = staff.get(f"/staff/counter/call/{ticket_id}?lang=ja")
    assert (
        "通訳者を呼ぶ" in page.text and "いま対応できる言語：ポルトガル語、ベトナム語" in page.text
    )
    url = f"/api/v1/staff/counter/tickets/{ticket_id}/interpreter"
    # Sign language: nobody; the answer names the languages someone is free for.
    none = staff.post(url + "?lang=en", json={"language": "jsl"})
    assert none.status_code == 409
    error = none.json()["error"]
    assert error["code"] == "no-interpreter-free"
    assert error["message"] == "No interpreter of this language is free now."
    assert [(lang["code"], lang["name_native"]) for lang in error["free_languages"]] == [
        ("pt", "Português"),
        ("vi", "Tiếng Việt"),
    ]
    called = staff.post(url, json={"language": "pt"})
    assert called.status_code == 201, called.text
    out = called.json()
    assert (out["interpreter_id"], out["interpreter_name"]) == (ids["silva"], "Ana Silva")
    again = staff.post(url, json={"language": "pt"})
    assert again.json()["error"]["code"] == "interpreter-already-called"
    # Another staff member cannot call into a call that is not theirs, nor cancel it.
    other = TestClient(client.app)
    api_login(other, "staff1")
    assert other.post(url, json={"language": "vi"}).status_code == 409
    assert other.delete(out["cancel_url"]).status_code == 403
    assert staff.delete(out["cancel_url"]).status_code == 204
    assert staff.delete(out["cancel_url"]).json()["error"]["code"] == "interpreter-call-gone"
    with Session(ctx.engine) as session:
        kinds = session.scalars(
            select(OutboxMail.kind).where(OutboxMail.to_addr == "silva@interp.example")
        )
        assert sorted(kinds) == ["interpreter-called", "interpreter-released"]
    # Free again: the next call gets Silva.
    assert staff.post(url, json={"language": "pt"}).json()["interpreter_name"] == "Ana Silva"


def test_a_booked_call_can_call_an_interpreter(
    client: TestClient, ctx: AppContext, city: MiniCity, clock: FixedClock
) -> None:
    add_interpreters(ctx.engine)
    clock.moment = NOW - timedelta(days=1)
    booked = book(client, city.consult_id, "2026-11-30T10:00:00+09:00")
    assert booked.status_code == 201, booked.text
    code = booked.json()["code"]
    clock.moment = NOW + timedelta(minutes=55)
    page_login(client, "admin")
    page = client.get(f"/staff/call/{code}?lang=ja")
    assert page.status_code == 200
    assert f'action="/api/v1/staff/bookings/{code}/interpreter"' in page.text
    r = client.post(f"/api/v1/staff/bookings/{code}/interpreter", json={"language": "vi"})
    assert r.status_code == 201, r.text
    assert r.json()["interpreter_name"] == "グエン"
    with Session(ctx.engine) as session:
        mail = session.scalars(
            select(OutboxMail).where(OutboxMail.kind == "interpreter-called")
        ).one()
        token = re.search(r"/join/(\S+)", mail.body)
        assert token
    join = TestClient(client.app).get(f"/join/{token.group(1)}")
    assert join.status_code == 200 and 'data-role="interpreter"' in join.text
    page = client.get(f"/staff/call/{code}?lang=ja")
    assert "グエン さん（ベトナム語）を呼び出しました" in page.text
    assert (
        client.post("/api/v1/staff/bookings/NOPE/interpreter", json={"language": "vi"}).status_code
        == 404
    )


def test_the_supervisor_board_shows_calls_needing_an_interpreter(
    client: TestClient, ctx: AppContext, city: MiniCity
) -> None:
    add_interpreters(ctx.engine)
    path = kiosk_path(ctx, city.kiosk_id)
    for language in ("pt", None):
        body: dict[str, Any] = {"service_id": city.consult_id}
        if language:
            body["interpreter_language"] = language
        assert client.post(f"/api/v1/kiosk/{api_token(path)}/tickets", json=body).status_code == 201
    admin = TestClient(client.app)
    page_login(admin, "admin")
    rows = admin.get("/api/v1/staff/counter/board").json()
    assert [(r["number"], r["interpreter_language"]) for r in rows] == [(1, "pt"), (2, None)]
    page = admin.get("/staff/counter?lang=ja")
    assert '<td class="board-interpreter">ポルトガル語</td>' in page.text
    assert '<td class="board-interpreter"></td>' in page.text


# -- admin -----------------------------------------------------------------------------------------


def test_admin_creates_edits_and_deactivates_languages_and_interpreters(
    client: TestClient, ctx: AppContext, city: MiniCity
) -> None:
    page_login(client)
    new = client.get("/admin/interpreter-languages/new?lang=ja")
    assert new.status_code == 200 and "その言語での名称" in new.text
    # Without the CSRF token nothing is saved.
    form = {
        "code": "zh", "name_ja": "中国語", "name_en": "Chinese", "name_native": "中文",
        "sort_order": "2", "active": "1",
    }  # fmt: skip
    assert client.post("/admin/interpreter-languages/new", data=form).status_code == 403
    # Validation messages next to the fields, in Japanese and in English.
    bad = client.post(
        "/admin/interpreter-languages/new?lang=ja",
        data={**form, "code": "Zh!", "name_native": "", "csrf_token": csrf_of(new.text)},
    )
    assert bad.status_code == 422
    assert (
        'id="code-error">英小文字・数字と、間に1つずつのハイフンだけを使ってください。<' in bad.text
    )
    assert 'id="name_native-error">入力してください。<' in bad.text
    bad_en = client.post(
        "/admin/interpreter-languages/new?lang=en",
        data={**form, "name_native": "", "csrf_token": csrf_of(new.text)},
    )
    assert 'id="name_native-error">This field is required.<' in bad_en.text
    made = client.post(
        "/admin/interpreter-languages/new",
        data={**form, "csrf_token": csrf_of(new.text)},
        follow_redirects=False,
    )
    assert (
        made.status_code == 303
        and made.headers["location"] == "/admin/interpreter-languages/zh?done=saved"
    )
    dup = client.post(
        "/admin/interpreter-languages/new?lang=en",
        data={**form, "csrf_token": csrf_of(new.text)},
    )
    assert dup.status_code == 422 and "This is already used." in dup.text
    assert "中文" in client.get("/admin/interpreter-languages").text
    assert client.get("/admin/interpreter-languages/nope").status_code == 404

    person = {
        "slug": "wang", "name": "王 芳", "email": "wang@interp.example", "locale": "en",
        "languages": ["zh"], "weekly_hours": "mon 09:00-12:00, 13:00-17:00\n火 09:00-17:00",
        "active": "1",
    }  # fmt: skip
    new_person = client.get("/admin/interpreters/new")
    wrong = client.post(
        "/admin/interpreters/new?lang=ja",
        data={
            **person,
            "weekly_hours": "someday 09:00-12:00",
            "csrf_token": csrf_of(new_person.text),
        },
    )
    assert wrong.status_code == 422
    assert "someday 09:00-12:00：各行は曜日" in wrong.text
    wrong_en = client.post(
        "/admin/interpreters/new?lang=en",
        data={**person, "weekly_hours": "mon 12:00-09:00", "languages": [],
              "csrf_token": csrf_of(new_person.text)},
    )  # fmt: skip
    assert 'id="languages-error">Choose at least one.<' in wrong_en.text
    saved = client.post(
        "/admin/interpreters/new",
        data={**person, "csrf_token": csrf_of(new_person.text)},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    edit_url = saved.headers["location"].split("?")[0]
    edit = client.get(edit_url)
    assert "mon 09:00-12:00, 13:00-17:00\ntue 09:00-17:00" in edit.text

    # The new interpreter makes Chinese bookable at once (no restart, no cache).
    staff = TestClient(client.app)
    slots = staff.get(
        f"/api/v1/services/{city.consult_id}/availability",
        params={"from": "2026-12-01", "to": "2026-12-01", "interpreter_language": "zh"},
    )
    assert slots.status_code == 200 and len(slots.json()["slots"]) > 0
    # Deactivating the interpreter takes them out of slots and of calls on demand.
    client.post(
        edit_url,
        data={**person, "active": "", "csrf_token": csrf_of(edit.text)},
        follow_redirects=False,
    )
    slots = staff.get(
        f"/api/v1/services/{city.consult_id}/availability",
        params={"from": "2026-12-01", "to": "2026-12-01", "interpreter_language": "zh"},
    )
    assert slots.json()["slots"] == []
    # Deactivating the language takes it off the kiosk and the public list.
    lang_edit = client.get("/admin/interpreter-languages/zh")
    r = client.post(
        "/admin/interpreter-languages/zh",
        data={**form, "active": "", "csrf_token": csrf_of(lang_edit.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert staff.get("/api/v1/interpreter-languages").json() == []
    with Session(ctx.engine) as session:
        row = session.get(InterpreterLanguage, "zh")
        assert row is not None and not row.active
        wang = session.scalars(select(Interpreter).where(Interpreter.slug == "wang")).one()
        assert (wang.active, wang.locale, wang.language_codes) == (False, "en", ["zh"])
