"""The call pages: the resident's join page for every state of the link, and the
staff call page with its state endpoint and the outcome recorded at the end."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from call_page_helpers import NOW, add_booking, app_data, login
from fastapi.testclient import TestClient
from jinja2 import Environment
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.calls.models import CallEventRow, Consultation
from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.i18n import catalog
from app.core.tokens import Purpose
from scheduler.models import Booking
from web.pages.call import pages as call_pages
from web.templating import TEMPLATES_DIR

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.fixture
def booking(city_engine: tuple[Engine, object], city: object, ctx: AppContext) -> Booking:
    engine = city_engine[0]
    # 10:00-10:30 JST on the test day: the link opens at 09:45.
    return add_booking(engine, city.staff_ids[0], city.consult_id, NOW + timedelta(hours=1))  # type: ignore[attr-defined]


def join_path(ctx: AppContext, booking: Booking) -> str:
    return "/join/" + ctx.links.join_token(booking)


# -- the resident's join page ---------------------------------------------------------------


def test_open_link_renders_the_call_page(
    client: TestClient, ctx: AppContext, clock: FixedClock, booking: Booking
) -> None:
    clock.moment = booking.start_at - timedelta(minutes=5)
    r = client.get(join_path(ctx, booking))
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    data = app_data(r.text)
    assert data["mode"] == "open"
    assert data["room"] == booking.room_id
    assert data["token"] == ctx.links.join_token(booking)
    # TURN credentials (when configured) are issued for this call's link only.
    assert data["rtc-config-url"] == f"/api/v1/rtc-config?token={data['token']}"
    messages = json.loads(data["messages"])
    assert messages["wait.waiting"] == "職員がまもなく参加します。"
    assert "2026年11月30日(月) 10:00〜10:30" in r.text
    assert '<script type="module" src="/static/js/pages/call-join.js"></script>' in r.text
    # No inline script or style anywhere (the CSP forbids them).
    assert "<script>" not in r.text and "style=" not in r.text
    assert 'id="step-waiting"' in r.text and 'aria-pressed="false"' in r.text


def test_early_link_says_when_and_offers_the_device_check(
    client: TestClient, ctx: AppContext, booking: Booking
) -> None:
    # 09:00: the link opens at 09:45.
    r = client.get(join_path(ctx, booking))
    assert r.status_code == 200
    assert app_data(r.text)["mode"] == "early"
    assert "2026年11月30日(月) 09:45から参加できます。" in r.text
    assert 'id="step-check"' in r.text and 'id="step-waiting"' not in r.text


def test_expired_link_says_the_slot_has_passed(
    client: TestClient, ctx: AppContext, clock: FixedClock, booking: Booking
) -> None:
    clock.moment = booking.end_at + timedelta(hours=1)
    r = client.get(join_path(ctx, booking))
    assert r.status_code == 410
    assert 'data-problem="expired"' in r.text
    assert 'href="/"' in r.text and "新しく予約する" in r.text


def test_tampered_link_is_refused_clearly(
    client: TestClient, ctx: AppContext, booking: Booking
) -> None:
    token = ctx.links.join_token(booking)
    r = client.get("/join/" + token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"))
    assert r.status_code == 403
    assert 'data-problem="invalid"' in r.text
    assert "call-app" not in r.text


def test_the_residents_page_names_sign_languages_the_interpreters_does_not(
    client: TestClient, ctx: AppContext, clock: FixedClock, booking: Booking
) -> None:
    """The resident's screen lays a signer out beside the staff member; the
    interpreter's own page (the same template) keeps the ordinary layout."""
    clock.moment = booking.start_at - timedelta(minutes=5)
    resident = app_data(client.get(join_path(ctx, booking)).text)
    assert json.loads(resident["sign-languages"]) == ["jsl"]
    token = ctx.links.join_token(booking, role="interpreter", pid="interpreter:9", language="jsl")
    claims = ctx.tokens.verify(Purpose.JOIN, token, now=clock.moment)
    assert claims["lang"] == "jsl"
    interpreter = app_data(client.get("/join/" + token).text)
    assert interpreter["role"] == "interpreter"
    assert "sign-languages" not in interpreter


def test_link_of_another_purpose_or_role_is_refused(
    client: TestClient, ctx: AppContext, booking: Booking
) -> None:
    assert client.get("/join/" + ctx.links.manage_token(booking)).status_code == 403
    staff_token = ctx.links.join_token(booking, role="staff", pid="staff:1")
    assert client.get("/join/" + staff_token).status_code == 403


def test_cancelled_booking_says_so(
    client: TestClient,
    ctx: AppContext,
    clock: FixedClock,
    city_engine: tuple[Engine, object],
    city: object,
) -> None:
    cancelled = add_booking(
        city_engine[0],
        city.staff_ids[0],  # type: ignore[attr-defined]
        city.consult_id,  # type: ignore[attr-defined]
        NOW + timedelta(hours=1),
        status="cancelled",
    )
    clock.moment = cancelled.start_at
    r = client.get(join_path(ctx, cancelled))
    assert r.status_code == 409
    assert 'data-problem="cancelled"' in r.text and "取り消されています" in r.text


def test_ended_call_says_so(
    client: TestClient,
    ctx: AppContext,
    clock: FixedClock,
    booking: Booking,
    city_engine: tuple[Engine, object],
) -> None:
    with Session(city_engine[0]) as session:
        session.add(
            CallEventRow(
                room=booking.room_id,
                kind="call-end",
                participant="staff:1",
                role="staff",
                at=booking.start_at,
                node="n1",
            )
        )
        session.commit()
    clock.moment = booking.start_at + timedelta(minutes=10)
    r = client.get(join_path(ctx, booking))
    assert r.status_code == 410 and 'data-problem="ended"' in r.text


def test_english_join_page(
    client: TestClient, ctx: AppContext, clock: FixedClock, booking: Booking
) -> None:
    clock.moment = booking.start_at
    r = client.get(join_path(ctx, booking) + "?lang=en")
    assert '<html lang="en">' in r.text
    assert json.loads(app_data(r.text)["messages"])["wait.waiting"] == "Staff will join shortly."


# -- the staff call page ------------------------------------------------------------------------


def test_staff_call_page_needs_login(client: TestClient, booking: Booking) -> None:
    r = client.get(f"/staff/call/{booking.code}", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/staff/login?next=/staff/call/")


def test_staff_call_page_and_state(client: TestClient, booking: Booking) -> None:
    login(client)
    r = client.get(f"/staff/call/{booking.code}")
    assert r.status_code == 200
    data = app_data(r.text)
    assert data["ticket-url"] == f"/api/v1/staff/bookings/{booking.code}/join"
    assert data["room"] == booking.room_id
    assert 'value="follow-up-needed"' in r.text and 'value="referred"' in r.text
    state = client.get(f"/staff/call/{booking.code}/state").json()
    assert state == {"state": "not-yet", "label": "未参加"}


def test_staff_of_another_department_is_refused(
    client: TestClient, booking: Booking, city_engine: tuple[Engine, object]
) -> None:
    from scheduler.models import Staff

    with Session(city_engine[0]) as session:
        other = session.get(Staff, booking.staff_id + 1)
        assert other is not None
        other.skills.clear()
        session.commit()
    login(client, "staff1")
    assert client.get(f"/staff/call/{booking.code}").status_code == 403


def test_finish_records_outcome_and_notes(
    client: TestClient, booking: Booking, city_engine: tuple[Engine, object]
) -> None:
    login(client)
    token = csrf_of(client.get(f"/staff/call/{booking.code}").text)
    r = client.post(
        f"/staff/call/{booking.code}/finish",
        data={"outcome": "follow-up-needed", "notes": "書類を郵送", "csrf_token": token},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "follow-up-needed"
    with Session(city_engine[0]) as session:
        record = session.query(Consultation).filter_by(booking_id=booking.id).one()
        assert (record.outcome, record.notes) == ("follow-up-needed", "書類を郵送")
    # Without an outcome the record is refused with a message for the form.
    r = client.post(
        f"/staff/call/{booking.code}/finish",
        data={"outcome": "", "csrf_token": token},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "outcome"
    # A forged form (no token) changes nothing.
    r = client.post(f"/staff/call/{booking.code}/finish", data={"outcome": "no-show"})
    assert r.status_code == 403


# -- translations --------------------------------------------------------------------------------


def test_every_call_message_has_a_japanese_translation() -> None:
    env = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    messages: set[str] = set(call_pages.CALL_MESSAGES.values())
    for path in sorted(Path(TEMPLATES_DIR, "call").glob("*.html")):
        for _line, _func, message in env.extract_translations(path.read_text()):
            if isinstance(message, str):
                messages.add(message)
    ja = catalog("ja")
    missing = sorted(m for m in messages if not (ja.get(m) and ja.get(m).string))
    assert missing == []
