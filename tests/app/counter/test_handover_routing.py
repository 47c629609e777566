"""Hand-over requests routed like walk-ins, targeted rings and presence timeout,
through the HTTP API on SQLite and PostgreSQL.

The clock is fixed and moved by hand: "no answer within the set time" and "the
console has been closed for a minute" are clock steps, not waits.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from argon2 import PasswordHasher
from call_page_helpers import add_booking, app_data  # type: ignore[import-not-found]
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.calls.consultations import Consultations
from app.calls.models import CallEventRow
from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.tokens import Purpose
from app.counter.desk import Desk
from app.counter.handover import Handovers
from app.counter.models import (
    HandoverRequest,
    HandoverStatus,
    QueueTicket,
    RingKind,
    RingOffer,
)
from app.counter.settings import CounterSettings
from app.main import create_app
from app.ops import jobs
from app.tracker.models import SessionRecord
from scheduler.models import Booking, Department, Kiosk, Service, Staff
from scheduler.routing import Presence
from web.pages.staff.counter import console_state

NOW = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # the conftest's Monday 09:00 JST
HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
MiniCity = Any
# The ring and presence timings these tests count on (MADOGUCHI_COUNTER_*).
TIMINGS = {
    "counter_offer_timeout_seconds": 20,
    "counter_reoffer_after_seconds": 60,
    "counter_presence_timeout_seconds": 60,
}


class Kosodate:
    """The department hand-overs go to: two qualified members, one who
    handles another service only."""

    dept_id: int
    service_id: int  # 児童手当, a service of the department
    k1: int
    k2: int
    k3: int  # in the department, without the service


@pytest.fixture
def kosodate(ctx: AppContext, city: MiniCity) -> Kosodate:
    out = Kosodate()
    with ctx.sessions() as session:
        dept = Department(slug="kosodate", name_ja="子育て支援課", name_en="Child Support")
        session.add(dept)
        session.flush()
        allowance = Service(
            department_id=dept.id,
            slug="jidou",
            name_ja="児童手当",
            name_en="Child allowance",
            duration_min=30,
            channels="online",
        )
        other = Service(
            department_id=dept.id,
            slug="hoiku",
            name_ja="保育園",
            name_en="Nursery",
            duration_min=30,
            channels="online",
        )
        session.add_all([allowance, other])
        members = []
        for login, service in (("k1", allowance), ("k2", allowance), ("k3", other)):
            member = Staff(
                login=login, display_name=f"子育て{login}", password_hash=HASHER.hash("pw")
            )
            member.departments.append(dept)
            member.skills.append(service)
            members.append(member)
        session.add_all(members)
        session.commit()
        out.dept_id, out.service_id = dept.id, allowance.id
        out.k1, out.k2, out.k3 = (m.id for m in members)
    return out


@pytest.fixture
def ctx(ctx: AppContext) -> AppContext:
    ctx.settings = ctx.settings.model_copy(update=TIMINGS)
    return ctx


@pytest.fixture
def app(ctx: AppContext) -> FastAPI:
    return create_app(ctx)


def settings(ctx: AppContext) -> CounterSettings:
    return CounterSettings.of(ctx.settings)


@pytest.fixture
def booking(city_engine: tuple[Engine, MiniCity], city: MiniCity) -> Booking:
    return add_booking(city_engine[0], city.staff_ids[0], city.consult_id, NOW + timedelta(hours=1))


def staff_client(app: FastAPI, login: str) -> TestClient:
    client = TestClient(app)
    r = client.post("/api/v1/auth/login", json={"login": login, "password": "pw"})
    assert r.status_code == 200, r.text
    return client


def console(client: TestClient) -> dict[str, Any]:
    r = client.get("/api/v1/staff/offers")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def rings(client: TestClient) -> list[dict[str, Any]]:
    return console(client)["handovers"]  # type: ignore[no-any-return]


def available(client: TestClient) -> None:
    r = client.put("/api/v1/staff/presence", json={"status": "available"})
    assert r.status_code == 200, r.text


def claims(ctx: AppContext, clock: FixedClock, token: str) -> dict[str, Any]:
    return ctx.tokens.verify(Purpose.JOIN, token, now=clock.now())


def test_department_hand_over_of_a_booked_call_rings_only_that_departments_qualified_staff(
    app: FastAPI,
    ctx: AppContext,
    city: MiniCity,
    clock: FixedClock,
    kosodate: Kosodate,
    booking: Booking,
) -> None:
    # staff1 (another department) has been free longest: routing must skip them.
    s1 = staff_client(app, "staff1")
    available(s1)
    k1, k2, k3 = (staff_client(app, login) for login in ("k1", "k2", "k3"))
    for i, client in enumerate((k1, k2, k3), 1):
        clock.moment = NOW + timedelta(seconds=i)
        available(client)
    with ctx.sessions() as session:
        first = session.get(Staff, city.staff_ids[0])
        assert first is not None
        Consultations(session).save_notes(booking, first, "転入届は提出済み", clock.now())
        session.commit()

    s0 = staff_client(app, "staff0")
    r = s0.post(
        f"/api/v1/staff/bookings/{booking.code}/handover",
        json={
            "department_id": kosodate.dept_id,
            "service_id": kosodate.service_id,
            "mode": "warm",
            "note": "児童手当の申請について",
        },
    )
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["department"] == "kosodate" and out["url"] is None and out["target"] is None

    # Longest idle of the qualified: k1, and only k1.
    ring = rings(k1)
    assert len(ring) == 1
    assert rings(k2) == rings(k3) == rings(s1) == []
    assert ring[0]["kind"] == "handover" and ring[0]["from_staff"] == "職員0"
    assert ring[0]["booking_code"] == booking.code and ring[0]["room"] == booking.room_id
    assert "児童手当の申請について" in ring[0]["context"]
    assert "転入届は提出済み" in ring[0]["context"]
    assert "職員0" in ring[0]["text"] and "子育て支援課" in ring[0]["text"]

    # k1 declines: k2 rings. k2 lets it ring out: k2 is away, and k1 is asked
    # again only a minute after the latest refusal.
    assert k1.post(f"/api/v1/staff/handover-offers/{ring[0]['id']}/decline").status_code == 204
    assert k1.post(f"/api/v1/staff/handover-offers/{ring[0]['id']}/accept").status_code == 409
    ring2 = rings(k2)
    assert len(ring2) == 1 and rings(k1) == []
    clock.moment += timedelta(seconds=20)
    assert rings(k2) == [] and console(k2)["presence"] == "away"
    assert rings(k1) == [] and rings(k3) == [] and rings(s1) == []
    clock.moment += timedelta(seconds=59)
    assert rings(k1) == []
    clock.moment += timedelta(seconds=1)
    again = rings(k1)
    assert len(again) == 1

    accepted = k1.post(f"/api/v1/staff/handover-offers/{again[0]['id']}/accept")
    assert accepted.status_code == 200, accepted.text
    call = accepted.json()
    assert call["room"] == booking.room_id
    assert call["role"] == "staff" and call["participant"] == f"staff:{kosodate.k1}"
    assert claims(ctx, clock, call["token"]).get("handover") is True
    assert console(k1)["presence"] == "in-call"
    # The ring stops everywhere; the page link is the call page for this booking.
    assert rings(k1) == rings(k2) == []
    page = urlsplit(call["page"])
    assert page.path == f"/staff/call/{booking.code}"
    token = parse_qs(page.query)["handover"][0]
    assert k1.get(call["page"]).status_code == 200
    ticket = k1.post(f"/api/v1/staff/handover/{token}/join")
    assert ticket.status_code == 200
    assert claims(ctx, clock, ticket.json()["token"]).get("handover") is True
    # k1 handles no service of the booking, yet carries on with it; k2 may not.
    assert k1.get(f"/staff/call/{booking.code}/state").status_code == 200
    assert k2.get(f"/staff/call/{booking.code}/state").status_code == 403
    with ctx.sessions() as session:
        request = session.get(HandoverRequest, out["request_id"])
        assert request is not None
        assert (request.status, request.accepted_by) == (HandoverStatus.ACCEPTED, kosodate.k1)
        # Nobody was ever rung outside the department's qualified staff.
        rung = set(session.scalars(select(RingOffer.staff_id).where(RingOffer.kind == "handover")))
        assert rung == {kosodate.k1, kosodate.k2}


def test_cold_hand_over_of_a_walk_in_moves_the_ticket_to_the_colleague(
    app: FastAPI, ctx: AppContext, city: MiniCity, clock: FixedClock, kosodate: Kosodate
) -> None:
    with ctx.sessions() as session:
        kiosk = session.get(Kiosk, city.kiosk_id)
        assert kiosk is not None
        kiosk_token = ctx.links.kiosk_token(kiosk, expires=NOW + timedelta(days=1))
    s1 = staff_client(app, "staff1")
    available(s1)
    kiosk_client = TestClient(app)
    ticket = kiosk_client.post(
        f"/api/v1/kiosk/{kiosk_token}/tickets", json={"service_id": city.consult_id}
    ).json()
    offer = console(s1)["offers"][0]
    walk_in = s1.post(f"/api/v1/staff/offers/{offer['id']}/accept").json()
    assert walk_in["room"].startswith("wi-")
    k1 = staff_client(app, "k1")
    available(k1)

    # Unknown department or a service of another department: refused.
    bad = s1.post(
        f"/api/v1/staff/counter/tickets/{ticket['id']}/handover",
        json={"department_id": kosodate.dept_id, "service_id": city.consult_id, "mode": "cold"},
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "handover-invalid"
    r = s1.post(
        f"/api/v1/staff/counter/tickets/{ticket['id']}/handover",
        json={"department_id": kosodate.dept_id, "mode": "cold", "note": "転入と児童手当"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["department"] == "kosodate"
    # Cold: the first staff member left at once and is free again; the
    # resident's ticket stays in the call.
    assert console(s1)["presence"] == "available"
    status = kiosk_client.get(f"/api/v1/kiosk/{kiosk_token}/tickets/{ticket['id']}").json()
    assert status["status"] == "in-call"

    ring = rings(k1)
    assert [x["ticket_id"] for x in ring] == [ticket["id"]]
    assert ring[0]["context"] == "転入と児童手当"
    state = console_state(ctx, kosodate.k1, "ja")
    assert state is not None
    # One id space for every ring: the stream's id is the API's.
    assert [o["id"] for o in state["offers"]] == [ring[0]["id"]]
    assert "受付番号 1" in state["offers"][0]["text"]

    accepted = k1.post(f"/api/v1/staff/handover-offers/{ring[0]['id']}/accept")
    assert accepted.status_code == 200, accepted.text
    call = accepted.json()
    assert call["room"] == walk_in["room"]
    assert "handover" not in claims(ctx, clock, call["token"])  # the free staff seat
    assert call["page"] == f"/staff/counter/call/{ticket['id']}"
    assert k1.get(call["page"]).status_code == 200
    assert s1.get(f"/staff/counter/call/{ticket['id']}").status_code == 404
    rejoin = k1.post(f"/api/v1/staff/counter/tickets/{ticket['id']}/join")
    assert rejoin.status_code == 200 and rejoin.json()["room"] == walk_in["room"]
    assert k1.post(f"/api/v1/staff/counter/tickets/{ticket['id']}/finish").status_code == 204
    assert console(k1)["presence"] == "available"


def test_warm_hand_over_frees_the_first_staff_member_when_they_leave_after_the_colleague_joined(
    app: FastAPI, ctx: AppContext, city: MiniCity, clock: FixedClock, kosodate: Kosodate
) -> None:
    with ctx.sessions() as session:
        kiosk = session.get(Kiosk, city.kiosk_id)
        assert kiosk is not None
        kiosk_token = ctx.links.kiosk_token(kiosk, expires=NOW + timedelta(days=1))
    s1 = staff_client(app, "staff1")
    available(s1)
    ticket = (
        TestClient(app)
        .post(f"/api/v1/kiosk/{kiosk_token}/tickets", json={"service_id": city.consult_id})
        .json()
    )
    walk_in = s1.post(f"/api/v1/staff/offers/{console(s1)['offers'][0]['id']}/accept").json()
    k2 = staff_client(app, "k2")
    available(k2)
    r = s1.post(
        f"/api/v1/staff/counter/tickets/{ticket['id']}/handover",
        json={"department_id": kosodate.dept_id, "mode": "warm"},
    )
    assert r.status_code == 201
    accepted = k2.post(f"/api/v1/staff/handover-offers/{rings(k2)[0]['id']}/accept").json()
    assert claims(ctx, clock, accepted["token"])["handover"] is True
    rejoin = k2.post(f"/api/v1/staff/counter/tickets/{ticket['id']}/join").json()
    assert claims(ctx, clock, rejoin["token"])["handover"] is True
    # Warm: the first is still in the call until they leave.
    assert console(s1)["presence"] == "in-call"

    def event(kind: str, who: int) -> None:
        with ctx.sessions() as session:
            session.add(
                CallEventRow(
                    room=walk_in["room"],
                    kind=kind,
                    participant=f"staff:{who}",
                    role="staff",
                    at=clock.now(),
                    node="test",
                    detail={},
                )
            )
            session.commit()

    event("join", city.staff_ids[1])
    clock.moment += timedelta(minutes=2)
    event("join", kosodate.k2)
    assert console(s1)["presence"] == "in-call"
    clock.moment += timedelta(minutes=1)
    event("leave", city.staff_ids[1])
    assert console(s1)["presence"] == "available"
    assert console(k2)["presence"] == "in-call"

    # The session record keeps both staff segments, in order.
    clock.moment += timedelta(minutes=5)
    event("call-end", kosodate.k2)
    clock.moment += timedelta(minutes=1)
    jobs.run_once(ctx, None)
    with ctx.sessions() as session:
        record = session.scalars(
            select(SessionRecord).where(SessionRecord.room == walk_in["room"])
        ).one()
        assert [(s.staff_id, s.left_at is not None) for s in record.segments] == [
            (city.staff_ids[1], True),
            (kosodate.k2, True),
        ]


def test_named_colleague_is_rung_in_their_console_and_a_decline_ends_it(
    app: FastAPI, ctx: AppContext, city: MiniCity, clock: FixedClock, booking: Booking
) -> None:
    s1, s2 = staff_client(app, "staff1"), staff_client(app, "staff2")
    available(s1)
    clock.moment += timedelta(seconds=1)
    available(s2)
    s0 = staff_client(app, "staff0")
    out = s0.post(
        f"/api/v1/staff/bookings/{booking.code}/handover",
        json={"staff_id": city.staff_ids[2], "mode": "cold"},
    ).json()
    # The link stays as a fallback, and the colleague's console rings.
    assert out["url"] and out["target"] == f"staff:{city.staff_ids[2]}"
    ring = rings(s2)
    assert len(ring) == 1 and ring[0]["kind"] == "handover"
    assert rings(s1) == []  # free longer, but not the one asked
    assert s2.post(f"/api/v1/staff/handover-offers/{ring[0]['id']}/decline").status_code == 204
    clock.moment += timedelta(minutes=5)
    assert rings(s2) == [] and rings(s1) == []
    with ctx.sessions() as session:
        request = session.get(HandoverRequest, out["request_id"])
        assert request is not None and request.status == HandoverStatus.DECLINED

    # An invitation rings too, and its answer is an observer's seat.
    invite = s0.post(
        f"/api/v1/staff/bookings/{booking.code}/invite",
        json={"role": "observer", "name": "職員2", "staff_id": city.staff_ids[2]},
    )
    assert invite.status_code == 201, invite.text
    assert invite.json()["url"] and invite.json()["request_id"]
    ring = rings(s2)
    assert len(ring) == 1 and ring[0]["kind"] == "invite"
    accepted = s2.post(f"/api/v1/staff/handover-offers/{ring[0]['id']}/accept").json()
    assert accepted["role"] == "observer" and accepted["room"] == booking.room_id
    assert accepted["page"].startswith("/join/")
    # Like the link: valid in the booking's join window.
    observer = ctx.tokens.verify(Purpose.JOIN, accepted["token"], now=booking.start_at)
    assert observer["role"] == "observer" and observer["room"] == booking.room_id
    assert s2.get(accepted["page"]).status_code == 200
    # Only an observer is rung; an unknown colleague is refused.
    assert (
        s0.post(
            f"/api/v1/staff/bookings/{booking.code}/invite",
            json={"role": "interpreter", "name": "x", "staff_id": city.staff_ids[2]},
        ).status_code
        == 422
    )
    assert (
        s0.post(
            f"/api/v1/staff/bookings/{booking.code}/handover",
            json={"staff_id": city.staff_ids[0], "mode": "warm"},
        ).status_code
        == 422
    )


def test_a_closed_console_is_offline_for_routing_and_comes_back_as_it_was(
    ctx: AppContext, city: MiniCity, kosodate: Kosodate
) -> None:
    def member(session: Session, staff_id: int) -> Staff:
        staff = session.get(Staff, staff_id)
        assert staff is not None
        return staff

    with ctx.sessions() as session:
        desk = Desk(session, ctx.tz, settings(ctx))
        k1, k2, k3 = (member(session, i) for i in (kosodate.k1, kosodate.k2, kosodate.k3))
        desk.set_presence(k1, Presence.AVAILABLE, NOW)
        desk.set_presence(k2, Presence.AWAY, NOW)
        desk.set_presence(k3, Presence.OFFLINE, NOW)
        # Polled within the minute: still there.
        desk.rounds.route(NOW + timedelta(seconds=60))
        assert desk.presence.of(k1.id) is Presence.AVAILABLE
        # A minute and a second without a poll: offline, so a hand-over waits.
        desk.rounds.route(NOW + timedelta(seconds=61))
        assert desk.presence.of(k1.id) is desk.presence.of(k2.id) is Presence.OFFLINE
        first = member(session, city.staff_ids[0])
        request = Handovers(session, ctx.tz, settings(ctx)).request(
            first,
            room_id="room-x",
            mode="cold",
            department_id=kosodate.dept_id,
            now=NOW + timedelta(seconds=62),
        )
        assert desk.rings.ringing(staff_id=k1.id) == []
        # Reopening the console brings each back as they were (and the
        # hand-over rings there); offline chosen by hand stays offline.
        later = NOW + timedelta(minutes=5)
        rung = desk.ringing(k1, later)
        assert desk.presence.of(k1.id) is Presence.AVAILABLE
        assert [(o.kind, o.request_id) for o in rung] == [(RingKind.HANDOVER, request.id)]
        desk.ringing(k2, later)
        desk.ringing(k3, later)
        assert desk.presence.of(k2.id) is Presence.AWAY
        assert desk.presence.of(k3.id) is Presence.OFFLINE
        session.commit()


def test_staff_in_a_call_stay_in_call_while_the_call_page_beats(
    app: FastAPI, ctx: AppContext, city: MiniCity, clock: FixedClock
) -> None:
    with ctx.sessions() as session:
        kiosk = session.get(Kiosk, city.kiosk_id)
        assert kiosk is not None
        kiosk_token = ctx.links.kiosk_token(kiosk, expires=NOW + timedelta(days=1))
    s1, s2 = staff_client(app, "staff1"), staff_client(app, "staff2")
    available(s1)
    TestClient(app).post(
        f"/api/v1/kiosk/{kiosk_token}/tickets", json={"service_id": city.consult_id}
    )
    s1.post(f"/api/v1/staff/offers/{console(s1)['offers'][0]['id']}/accept")
    for _ in range(5):
        clock.moment += timedelta(seconds=40)
        assert s1.post("/api/v1/staff/presence/heartbeat").status_code == 204
        console(s2)  # somebody else's poll runs the round
        with ctx.sessions() as session:
            book = Desk(session, ctx.tz, settings(ctx)).presence
            assert book.of(city.staff_ids[1]) is Presence.IN_CALL
    # The call page closed without a word: after the timeout, offline...
    clock.moment += timedelta(seconds=61)
    console(s2)
    with ctx.sessions() as session:
        book = Desk(session, ctx.tz, settings(ctx)).presence
        assert book.of(city.staff_ids[1]) is Presence.OFFLINE
    # ...and back in the call when the page (or console) returns.
    assert console(s1)["presence"] == "in-call"
    # A call that ends while the console is closed brings them back available.
    clock.moment += timedelta(seconds=61)
    console(s2)
    with ctx.sessions() as session:
        ticket_room = session.scalar(select(QueueTicket.room_id))
        assert ticket_room is not None
        session.add(
            CallEventRow(
                room=ticket_room,
                kind="call-end",
                participant=f"staff:{city.staff_ids[1]}",
                role="staff",
                at=clock.now(),
                node="test",
                detail={},
            )
        )
        session.commit()
    console(s2)
    assert console(s1)["presence"] == "available"


def test_call_pages_offer_the_department_picker_and_the_console_shows_the_ring(
    app: FastAPI,
    ctx: AppContext,
    city: MiniCity,
    clock: FixedClock,
    kosodate: Kosodate,
    booking: Booking,
) -> None:
    s0 = staff_client(app, "staff0")
    page = s0.get(f"/staff/call/{booking.code}?lang=ja")
    assert page.status_code == 200
    html = page.text
    picker = re.search(
        r'<select id="handover-department" name="department_id">(.*?)</select>', html, re.S
    )
    assert picker and f'<option value="{kosodate.dept_id}">子育て支援課</option>' in picker.group(1)
    service = re.search(
        r'<select id="handover-service" name="service_id"[^>]*>(.*?)</select>', html, re.S
    )
    assert service
    assert (
        f'<option value="{kosodate.service_id}" data-department="{kosodate.dept_id}">児童手当</option>'
        in service.group(1)
    )
    assert '<label for="handover-department">課</label>' in html
    assert 'id="handover-note"' in html and "引き継ぎ先" in html
    assert 'data-heartbeat-url="/api/v1/staff/presence/heartbeat"' in html
    assert 'id="invite-staff"' in html
    english = s0.get(f"/staff/call/{booking.code}?lang=en").text
    assert "Hand over to" in english and "Note for the colleague" in english

    k1 = staff_client(app, "k1")
    available(k1)
    s0.post(
        f"/api/v1/staff/bookings/{booking.code}/handover",
        json={"department_id": kosodate.dept_id, "mode": "warm", "note": "書類は確認済み"},
    )
    counter = k1.get("/staff/counter?lang=ja")
    assert counter.status_code == 200
    assert "職員0さんから子育て支援課への引き継ぎ" in counter.text
    assert (
        '<p class="offer-context"><span class="visually-hidden">これまでのメモ: </span>書類は確認済み</p>'
        in counter.text
    )
    assert 'class="offer-context" hidden' in counter.text  # the template for live rings
    english = console_state(ctx, kosodate.k1, "en")
    assert english is not None
    assert english["offers"][0]["text"] == "Hand-over from 職員0 to Child Support"
    assert english["offers"][0]["answer_url"].startswith("/api/v1/staff/handover-offers/")

    # The walk-in call page has the same form, posting to the ticket.
    with ctx.sessions() as session:
        kiosk = session.get(Kiosk, city.kiosk_id)
        assert kiosk is not None
        kiosk_token = ctx.links.kiosk_token(kiosk, expires=NOW + timedelta(days=1))
    s1 = staff_client(app, "staff1")
    available(s1)
    ticket = (
        TestClient(app)
        .post(f"/api/v1/kiosk/{kiosk_token}/tickets", json={"service_id": city.consult_id})
        .json()
    )
    s1.post(f"/api/v1/staff/offers/{console(s1)['offers'][0]['id']}/accept")
    walk_in = s1.get(f"/staff/counter/call/{ticket['id']}?lang=ja").text
    assert (
        f'action="/api/v1/staff/counter/tickets/{ticket["id"]}/handover" id="handover-form"'
        in walk_in
    )
    assert f'<option value="{kosodate.dept_id}">子育て支援課</option>' in walk_in
    assert 'src="/static/js/pages/staff-counter-call.js"' in walk_in


def test_a_hand_over_nobody_takes_escalates_on_the_supervisor_board(
    app: FastAPI,
    ctx: AppContext,
    city: MiniCity,
    clock: FixedClock,
    kosodate: Kosodate,
    booking: Booking,
) -> None:
    s0 = staff_client(app, "staff0")
    r = s0.post(
        f"/api/v1/staff/bookings/{booking.code}/handover",
        json={"department_id": kosodate.dept_id, "mode": "cold"},
    )
    assert r.status_code == 201
    state = console_state(ctx, city.admin_id, "ja")
    assert state is not None
    assert [(row["number"], row["service"], row["escalated"]) for row in state["board"]] == [
        ("引き継ぎ", "子育て支援課", False)
    ]
    clock.moment += timedelta(minutes=10)
    state = console_state(ctx, city.admin_id, "ja")
    assert state is not None
    assert [(row["service"], row["escalated"], row["ringing"]) for row in state["board"]] == [
        ("子育て支援課", True, False)
    ]
    # The call ends before anyone took it: the request is cancelled and leaves the board.
    with ctx.sessions() as session:
        session.add(
            CallEventRow(
                room=booking.room_id,
                kind="call-end",
                participant=f"staff:{city.staff_ids[0]}",
                role="staff",
                at=clock.now(),
                node="test",
                detail={},
            )
        )
        session.commit()
    state = console_state(ctx, city.admin_id, "ja")
    assert state is not None and state["board"] == []
    with ctx.sessions() as session:
        request = session.get(HandoverRequest, r.json()["request_id"])
        assert request is not None and request.status == HandoverStatus.CANCELLED


def test_a_walk_in_and_a_hand_over_never_ring_one_person_at_once(
    app: FastAPI, ctx: AppContext, city: MiniCity, clock: FixedClock, booking: Booking
) -> None:
    with ctx.sessions() as session:
        kiosk = session.get(Kiosk, city.kiosk_id)
        assert kiosk is not None
        kiosk_token = ctx.links.kiosk_token(kiosk, expires=NOW + timedelta(days=1))
    s2 = staff_client(app, "staff2")
    available(s2)
    TestClient(app).post(
        f"/api/v1/kiosk/{kiosk_token}/tickets", json={"service_id": city.consult_id}
    )
    assert len(console(s2)["offers"]) == 1
    s0 = staff_client(app, "staff0")
    out = s0.post(
        f"/api/v1/staff/bookings/{booking.code}/handover",
        json={"staff_id": city.staff_ids[2], "mode": "warm"},
    ).json()
    # staff2 is being rung for the walk-in: the hand-over waits its turn.
    state = console(s2)
    assert len(state["offers"]) == 1 and state["handovers"] == []
    s2.post(f"/api/v1/staff/offers/{state['offers'][0]['id']}/decline")
    # The walk-in has nobody else; the hand-over rings now.
    state = console(s2)
    assert state["offers"] == [] and len(state["handovers"]) == 1
    # And the database refuses a second ringing hand-over offer for one request.
    with Session(ctx.engine) as session:
        session.add(
            RingOffer(
                kind=RingKind.HANDOVER,
                request_id=out["request_id"],
                staff_id=city.staff_ids[1],
                offered_at=clock.now(),
                expires_at=clock.now() + timedelta(seconds=20),
                result="ringing",
            )
        )
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()


def walk_in_call(
    app: FastAPI, ctx: AppContext, city: MiniCity, login: str
) -> tuple[TestClient, dict[str, Any], dict[str, Any]]:
    """A kiosk's walk-in, accepted by ``login``: their client, the ticket, the call."""
    with ctx.sessions() as session:
        kiosk = session.get(Kiosk, city.kiosk_id)
        assert kiosk is not None
        kiosk_token = ctx.links.kiosk_token(kiosk, expires=NOW + timedelta(days=1))
    holder = staff_client(app, login)
    available(holder)
    ticket = (
        TestClient(app)
        .post(f"/api/v1/kiosk/{kiosk_token}/tickets", json={"service_id": city.consult_id})
        .json()
    )
    offer = console(holder)["offers"][0]
    call = holder.post(f"/api/v1/staff/offers/{offer['id']}/accept").json()
    assert call["room"].startswith("wi-")
    return holder, ticket, call


def test_walk_in_invite_gives_a_link_into_the_room_and_rings_a_colleague(
    app: FastAPI, ctx: AppContext, city: MiniCity, clock: FixedClock
) -> None:
    s1, ticket, walk_in = walk_in_call(app, ctx, city, "staff1")
    url = f"/api/v1/staff/counter/tickets/{ticket['id']}/invite"
    body = {"role": "interpreter", "name": "Ana Souza"}
    assert TestClient(app).post(url, json=body).status_code == 401
    # Only the staff member holding the ticket may invite: not a colleague
    # qualified for the service, not an admin.
    assert staff_client(app, "staff0").post(url, json=body).status_code == 403
    assert staff_client(app, "admin").post(url, json=body).status_code == 403
    missing = s1.post(f"/api/v1/staff/counter/tickets/{ticket['id'] + 999}/invite", json=body)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ticket-not-found"
    assert s1.post(url, json={"role": "staff", "name": "x"}).status_code == 422

    r = s1.post(url, json=body)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["request_id"] is None
    token = out["url"].rsplit("/join/", 1)[1]
    link = claims(ctx, clock, token)
    assert (link["room"], link["role"], link["name"], link["pid"]) == (
        walk_in["room"],
        "interpreter",
        "Ana Souza",
        out["participant"],
    )
    page = TestClient(app).get(f"/join/{token}")
    assert page.status_code == 200
    assert app_data(page.text)["role"] == "interpreter"
    assert app_data(page.text)["room"] == walk_in["room"]

    # A colleague: the console rings with an invitation for this ticket.
    s2 = staff_client(app, "staff2")
    available(s2)
    assert (
        s1.post(
            url, json={"role": "interpreter", "name": "x", "staff_id": city.staff_ids[2]}
        ).status_code
        == 422
    )
    r = s1.post(url, json={"role": "observer", "name": "職員2", "staff_id": city.staff_ids[2]})
    assert r.status_code == 201, r.text
    rung = r.json()
    assert rung["request_id"] and rung["role"] == "observer"
    ring = rings(s2)
    assert [(x["kind"], x["ticket_id"], x["room"]) for x in ring] == [
        ("invite", ticket["id"], walk_in["room"])
    ]
    assert "職員1" in ring[0]["text"] and "受付番号 1" in ring[0]["text"]
    accepted = s2.post(f"/api/v1/staff/handover-offers/{ring[0]['id']}/accept")
    assert accepted.status_code == 200, accepted.text
    seat = accepted.json()
    assert (seat["role"], seat["room"]) == ("observer", walk_in["room"])
    observer = claims(ctx, clock, seat["token"])
    assert (observer["role"], observer["room"]) == ("observer", walk_in["room"])
    assert "handover" not in observer
    assert seat["page"] == f"/join/{seat['token']}"
    joined = s2.get(seat["page"])
    assert joined.status_code == 200 and app_data(joined.text)["role"] == "observer"
    # An invitation is no hand-over: the walk-in stays with the first staff member.
    assert s1.get(f"/staff/counter/call/{ticket['id']}").status_code == 200
    assert s2.get(f"/staff/counter/call/{ticket['id']}").status_code == 404
    assert console(s2)["presence"] == "available"

    # Once the call is over, the link no longer opens the room, and nobody invites.
    assert s1.post(f"/api/v1/staff/counter/tickets/{ticket['id']}/finish").status_code == 204
    assert TestClient(app).get(f"/join/{token}").status_code == 410
    gone = s1.post(url, json=body)
    assert gone.status_code == 409 and gone.json()["error"]["code"] == "ticket-gone"


def test_walk_in_call_page_has_the_invite_form_in_japanese_and_english(
    app: FastAPI, ctx: AppContext, city: MiniCity
) -> None:
    s1, ticket, _ = walk_in_call(app, ctx, city, "staff1")
    action = f'action="/api/v1/staff/counter/tickets/{ticket["id"]}/invite" id="invite-form"'
    ja = s1.get(f"/staff/counter/call/{ticket['id']}?lang=ja").text
    assert action in ja
    assert '<label for="invite-role">この通話に招待</label>' in ja
    assert '<label for="invite-name">' in ja and 'id="invite-name" name="name" required' in ja
    assert f'<option value="{city.staff_ids[2]}">' in ja.split('id="invite-staff"', 1)[1]
    assert "引き継ぎ・同席の依頼" in ja
    assert 'id="team-link"' in ja and 'aria-labelledby="team-status"' in ja
    en = s1.get(f"/staff/counter/call/{ticket['id']}?lang=en").text
    assert action in en
    assert '<label for="invite-role">Invite into this call</label>' in en
    assert "Create a link" in en and "Hand over or invite" in en
