"""The walk-in queue and routing through the HTTP API, on SQLite and PostgreSQL.

The clock is fixed and moved by hand, so "no answer within the set time" is a
clock step, not a wait.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.calls.models import CallEventRow
from app.core.clock import FixedClock
from app.core.context import AppContext
from app.counter.models import (
    HandoverRequest,
    HandoverStatus,
    OfferResult,
    QueueTicket,
    RingKind,
    RingOffer,
)
from app.main import create_app
from app.ops import jobs
from app.tracker.models import SessionRecord
from scheduler.models import Department, Kiosk, Service, Staff
from scheduler.service import BookingRequest, SchedulingService
from scheduler.types import Channel

# The conftest's fixed "now" (Monday 2026-11-30 09:00 JST) and a fast hasher.
NOW = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
MiniCity = Any  # tests/app/conftest.py's MiniCity


@pytest.fixture
def other_dept_staff(ctx: AppContext, city: MiniCity) -> int:
    """A staff member of another department who can handle the counter's service."""
    with ctx.sessions() as session:
        dept = Department(slug="kosodate", name_ja="子育て支援課", name_en="Child Support")
        session.add(dept)
        consult = session.get(Service, city.consult_id)
        capped = session.get(Service, city.capped_id)
        assert consult is not None and capped is not None
        other = Staff(login="other", display_name="他課職員", password_hash=HASHER.hash("pw"))
        other.departments.append(dept)
        other.skills.append(consult)
        # Qualified for nothing the kiosk offers.
        narrow = Staff(login="narrow", display_name="印鑑担当", password_hash=HASHER.hash("pw"))
        narrow.departments.append(dept)
        narrow.skills.append(capped)
        session.add_all([other, narrow])
        session.commit()
        return other.id


@pytest.fixture
def app(ctx: AppContext) -> FastAPI:
    # The timings these tests count on (MADOGUCHI_COUNTER_*).
    ctx.settings = ctx.settings.model_copy(
        update={
            "counter_offer_timeout_seconds": 20,
            "counter_escalate_after_minutes": 10,
            "counter_default_talk_minutes": 8,
        }
    )
    return create_app(ctx)


def kiosk_token(ctx: AppContext, city: MiniCity) -> str:
    with ctx.sessions() as session:
        kiosk = session.get(Kiosk, city.kiosk_id)
        assert kiosk is not None
        return ctx.links.kiosk_token(kiosk, expires=NOW + timedelta(days=30))


def staff_client(app: FastAPI, login: str) -> TestClient:
    client = TestClient(app)
    response = client.post("/api/v1/auth/login", json={"login": login, "password": "pw"})
    assert response.status_code == 200, response.text
    return client


def available(client: TestClient) -> dict:  # type: ignore[type-arg]
    response = client.put("/api/v1/staff/presence", json={"status": "available"})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def offers(client: TestClient) -> list[dict]:  # type: ignore[type-arg]
    response = client.get("/api/v1/staff/offers")
    assert response.status_code == 200, response.text
    return response.json()["offers"]  # type: ignore[no-any-return]


def test_ticket_numbers_positions_and_leaving(
    app: FastAPI, ctx: AppContext, city: MiniCity
) -> None:
    kiosk = TestClient(app)
    token = kiosk_token(ctx, city)
    first = kiosk.post(f"/api/v1/kiosk/{token}/tickets", json={"service_id": city.consult_id})
    second = kiosk.post(f"/api/v1/kiosk/{token}/tickets", json={"service_id": city.consult_id})
    assert first.status_code == second.status_code == 201
    a, b = first.json(), second.json()
    assert (a["number"], a["position"], a["status"]) == (1, 1, "waiting")
    assert (b["number"], b["position"]) == (2, 2)
    # Nobody qualified available or in a call: no wait is promised. Their
    # hours cover 09:00 but nobody is at a console, so the next qualified
    # staff member is expected when working hours next start, at 13:00.
    assert (a["estimate_minutes"], a["staffed"]) == (None, False)
    assert a["expected_at"] == "2026-11-30T04:00:00Z"
    assert a["call"] is None
    # Someone comes on duty: the first is answered after the default answer
    # time (under a minute); the second after the first's call, 8 minutes.
    available(staff_client(app, "staff1"))
    a = kiosk.get(f"/api/v1/kiosk/{token}/tickets/{a['id']}").json()
    b = kiosk.get(f"/api/v1/kiosk/{token}/tickets/{b['id']}").json()
    assert (a["estimate_minutes"], a["staffed"], a["expected_at"]) == (1, True, None)
    assert (b["estimate_minutes"], b["staffed"]) == (9, True)

    assert kiosk.delete(f"/api/v1/kiosk/{token}/tickets/{a['id']}").status_code == 204
    again = kiosk.get(f"/api/v1/kiosk/{token}/tickets/{b['id']}").json()
    assert again["position"] == 1
    assert kiosk.delete(f"/api/v1/kiosk/{token}/tickets/{a['id']}").status_code == 409

    online_only = kiosk.post(f"/api/v1/kiosk/{token}/tickets", json={"service_id": city.capped_id})
    assert online_only.status_code == 422
    assert online_only.json()["error"]["code"] == "service-not-at-kiosk"
    assert kiosk.post("/api/v1/kiosk/forged/tickets", json={"service_id": 1}).status_code == 403


def test_walk_in_goes_to_qualified_staff_of_another_department(
    app: FastAPI, ctx: AppContext, city: MiniCity, clock: FixedClock, other_dept_staff: int
) -> None:
    narrow = staff_client(app, "narrow")
    other = staff_client(app, "other")
    available(narrow)
    clock.moment = NOW + timedelta(seconds=5)
    available(other)
    kiosk = TestClient(app)
    token = kiosk_token(ctx, city)
    ticket = kiosk.post(f"/api/v1/kiosk/{token}/tickets", json={"service_id": city.consult_id})
    assert offers(narrow) == []
    ringing = offers(other)
    assert [o["number"] for o in ringing] == [1]
    accepted = other.post(f"/api/v1/staff/offers/{ringing[0]['id']}/accept")
    assert accepted.status_code == 200, accepted.text
    call = accepted.json()
    assert call["role"] == "staff" and call["participant"] == f"staff:{other_dept_staff}"
    status = kiosk.get(f"/api/v1/kiosk/{token}/tickets/{ticket.json()['id']}").json()
    assert status["status"] == "in-call"
    assert status["call"]["room"] == call["room"]
    assert status["call"]["participant"] == f"kiosk:{city.kiosk_id}"
    assert other.get("/api/v1/staff/offers").json()["presence"] == "in-call"

    # Four minutes later the call ends: the estimate now uses that talk time
    # (and the answer time measured: at once).
    clock.moment += timedelta(minutes=4)
    done = other.post(f"/api/v1/staff/counter/tickets/{status['id']}/finish")
    assert done.status_code == 204
    assert other.get("/api/v1/staff/offers").json()["presence"] == "available"
    nxt = kiosk.post(f"/api/v1/kiosk/{token}/tickets", json={"service_id": city.consult_id})
    after = kiosk.post(f"/api/v1/kiosk/{token}/tickets", json={"service_id": city.consult_id})
    assert nxt.json()["estimate_minutes"] == 1
    assert after.json()["estimate_minutes"] == 4


def test_fifo_one_staff_member_two_kiosk_tickets(
    app: FastAPI, ctx: AppContext, city: MiniCity, clock: FixedClock
) -> None:
    s0 = staff_client(app, "staff0")
    kiosk = TestClient(app)
    token = kiosk_token(ctx, city)
    t1 = kiosk.post(f"/api/v1/kiosk/{token}/tickets", json={"service_id": city.consult_id}).json()
    clock.moment += timedelta(seconds=1)
    t2 = kiosk.post(f"/api/v1/kiosk/{token}/tickets", json={"service_id": city.consult_id}).json()
    available(s0)
    first = offers(s0)
    assert [o["ticket_id"] for o in first] == [t1["id"]]
    call = s0.post(f"/api/v1/staff/offers/{first[0]['id']}/accept")
    assert call.status_code == 200
    assert offers(s0) == []  # in a call: nothing rings
    assert kiosk.get(f"/api/v1/kiosk/{token}/tickets/{t2['id']}").json()["position"] == 1
    s0.post(f"/api/v1/staff/counter/tickets/{t1['id']}/finish")
    assert [o["ticket_id"] for o in offers(s0)] == [t2["id"]]


def test_decline_and_no_answer_re_offer(
    app: FastAPI, ctx: AppContext, city: MiniCity, clock: FixedClock
) -> None:
    s0, s1, s2 = (staff_client(app, f"staff{i}") for i in range(3))
    for i, client in enumerate((s0, s1, s2)):
        clock.moment = NOW + timedelta(seconds=i)
        available(client)
    kiosk = TestClient(app)
    token = kiosk_token(ctx, city)
    clock.moment = NOW + timedelta(minutes=1)
    ticket = kiosk.post(f"/api/v1/kiosk/{token}/tickets", json={"service_id": city.consult_id})
    # Longest idle first: staff0, and only staff0.
    ring = offers(s0)
    assert len(ring) == 1 and offers(s1) == [] and offers(s2) == []
    assert s0.post(f"/api/v1/staff/offers/{ring[0]['id']}/decline").status_code == 204
    assert s0.post(f"/api/v1/staff/offers/{ring[0]['id']}/accept").status_code == 409
    assert offers(s0) == [] and offers(s2) == []
    ring1 = offers(s1)
    assert len(ring1) == 1
    # staff1 does not answer: 19 s still rings, 20 s moves it on and sets staff1 away.
    clock.moment += timedelta(seconds=19)
    assert len(offers(s1)) == 1
    clock.moment += timedelta(seconds=1)
    assert offers(s1) == []
    assert s1.get("/api/v1/staff/offers").json()["presence"] == "away"
    ring2 = offers(s2)
    assert len(ring2) == 1
    assert s1.post(f"/api/v1/staff/offers/{ring1[0]['id']}/accept").status_code == 409
    accepted = s2.post(f"/api/v1/staff/offers/{ring2[0]['id']}/accept")
    assert accepted.status_code == 200
    with Session(ctx.engine) as session:
        results = session.scalars(
            select(RingOffer.result)
            .where(RingOffer.ticket_id == ticket.json()["id"])
            .order_by(RingOffer.id)
        ).all()
    assert results == [OfferResult.DECLINED, OfferResult.LAPSED, OfferResult.ACCEPTED]


def test_leaving_stops_the_ring_and_long_waits_escalate(
    app: FastAPI, ctx: AppContext, city: MiniCity, clock: FixedClock
) -> None:
    s0 = staff_client(app, "staff0")
    admin = staff_client(app, "admin")
    kiosk = TestClient(app)
    token = kiosk_token(ctx, city)
    t1 = kiosk.post(f"/api/v1/kiosk/{token}/tickets", json={"service_id": city.consult_id}).json()
    t2 = kiosk.post(f"/api/v1/kiosk/{token}/tickets", json={"service_id": city.consult_id}).json()
    assert s0.get("/api/v1/staff/counter/board").status_code == 403
    clock.moment = NOW + timedelta(minutes=10)
    board = admin.get("/api/v1/staff/counter/board").json()
    assert [(r["number"], r["escalated"], r["waited_minutes"]) for r in board] == [
        (1, True, 10),
        (2, True, 10),
    ]
    available(s0)
    assert [o["ticket_id"] for o in offers(s0)] == [t1["id"]]
    kiosk.delete(f"/api/v1/kiosk/{token}/tickets/{t1['id']}")
    assert [o["ticket_id"] for o in offers(s0)] == [t2["id"]]
    board = admin.get("/api/v1/staff/counter/board").json()
    assert [(r["number"], r["ringing_staff_id"]) for r in board] == [(2, city.staff_ids[0])]


def test_the_database_refuses_a_second_ringing_offer(
    app: FastAPI, ctx: AppContext, city: MiniCity
) -> None:
    kiosk = TestClient(app)
    token = kiosk_token(ctx, city)
    t1 = kiosk.post(f"/api/v1/kiosk/{token}/tickets", json={"service_id": city.consult_id}).json()
    with Session(ctx.engine) as session:
        for staff_id in city.staff_ids[:2]:
            session.add(
                RingOffer(
                    kind=RingKind.TICKET,
                    ticket_id=t1["id"],
                    staff_id=staff_id,
                    offered_at=NOW,
                    expires_at=NOW + timedelta(seconds=20),
                    result=OfferResult.RINGING,
                )
            )
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()
        assert session.scalars(select(QueueTicket)).one().number == 1


def _ring(kind: RingKind, staff_id: int, **subject: int) -> RingOffer:
    return RingOffer(
        kind=kind,
        staff_id=staff_id,
        offered_at=NOW,
        expires_at=NOW + timedelta(seconds=20),
        result=OfferResult.RINGING,
        **subject,
    )


def test_the_database_refuses_two_rings_at_one_person_whatever_they_are_about(
    app: FastAPI, ctx: AppContext, city: MiniCity
) -> None:
    kiosk = TestClient(app)
    token = kiosk_token(ctx, city)
    t1 = kiosk.post(f"/api/v1/kiosk/{token}/tickets", json={"service_id": city.consult_id}).json()
    staff_id = city.staff_ids[0]
    with Session(ctx.engine) as session:
        request = HandoverRequest(
            room_id="room-x",
            kind="handover",
            mode="cold",
            from_staff_id=city.staff_ids[1],
            target_staff_id=staff_id,
            context="",
            status=HandoverStatus.WAITING,
            queued_at=NOW,
            refused_by=[],
        )
        session.add(request)
        session.flush()
        session.add(_ring(RingKind.TICKET, staff_id, ticket_id=t1["id"]))
        session.flush()
        session.add(_ring(RingKind.HANDOVER, staff_id, request_id=request.id))
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()


@pytest.mark.parametrize(
    ("kind", "subject"),
    [
        (RingKind.TICKET, {}),
        (RingKind.HANDOVER, {"ticket": True}),
        (RingKind.TICKET, {"ticket": True, "request": True}),
    ],
)
def test_a_ring_is_about_exactly_one_ticket_or_request_of_its_kind(
    app: FastAPI, ctx: AppContext, city: MiniCity, kind: RingKind, subject: dict[str, bool]
) -> None:
    kiosk = TestClient(app)
    token = kiosk_token(ctx, city)
    t1 = kiosk.post(f"/api/v1/kiosk/{token}/tickets", json={"service_id": city.consult_id}).json()
    with Session(ctx.engine) as session:
        request = HandoverRequest(
            room_id="room-x",
            kind="handover",
            mode="cold",
            from_staff_id=city.staff_ids[1],
            target_staff_id=city.staff_ids[0],
            context="",
            status=HandoverStatus.WAITING,
            queued_at=NOW,
            refused_by=[],
        )
        session.add(request)
        session.flush()
        ids = {"ticket_id": t1["id"], "request_id": request.id}
        chosen = {f"{name}_id": ids[f"{name}_id"] for name in subject}
        session.add(_ring(kind, city.staff_ids[0], **chosen))
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()


def test_booked_kiosk_visit_goes_before_walk_ins_at_its_time(
    app: FastAPI, ctx: AppContext, city: MiniCity, clock: FixedClock
) -> None:
    start = NOW + timedelta(hours=1)  # 10:00 JST
    with Session(ctx.engine, expire_on_commit=False) as session:
        booking = SchedulingService(session, tz=ctx.tz).book(
            BookingRequest(
                service_id=city.consult_id,
                start=start,
                channel=Channel.KIOSK,
                name="山田 花子",
                email="hanako@example.jp",
                kiosk_id=city.kiosk_id,
            ),
            NOW - timedelta(days=1),
        )
        session.commit()
    booked_login = f"staff{city.staff_ids.index(booking.staff_id)}"
    kiosk = TestClient(app)
    token = kiosk_token(ctx, city)
    clock.moment = start - timedelta(minutes=10)
    walk = kiosk.post(f"/api/v1/kiosk/{token}/tickets", json={"service_id": city.consult_id})
    # The resident with the booking arrives early and types the code.
    clock.moment = start - timedelta(minutes=5)
    page = kiosk.get(f"/kiosk/{token}/code?lang=ja")
    csrf_token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf_token
    r = kiosk.post(
        f"/kiosk/{token}/code?lang=ja",
        data={"code": booking.code, "csrf_token": csrf_token.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    with Session(ctx.engine) as session:
        booked = session.scalars(
            select(QueueTicket).where(QueueTicket.booking_id == booking.id)
        ).one()
        assert (booked.number, booked.room_id, booked.queued_at) == (2, booking.room_id, start)

    # At its time the booked visit goes first, to its booked staff member,
    # although the walk-in came earlier.
    clock.moment = start
    staff = staff_client(app, booked_login)
    available(staff)
    assert [o["ticket_id"] for o in offers(staff)] == [booked.id]

    # The staff member joins from today's queue instead of answering: the
    # ticket is theirs, the ring stops; "end" makes it done and frees them.
    with Session(ctx.engine) as session:
        session.add(
            CallEventRow(
                room=booking.room_id, kind="join", participant=f"staff:{booking.staff_id}",
                role="staff", at=start, node="n1", detail={},
            )
        )  # fmt: skip
        session.commit()
    assert offers(staff) == []
    assert staff.get("/api/v1/staff/offers").json()["presence"] == "in-call"
    clock.moment = start + timedelta(minutes=20)
    with Session(ctx.engine) as session:
        session.add(
            CallEventRow(
                room=booking.room_id, kind="call-end", participant=None, role=None,
                at=clock.moment, node="n1", detail={},
            )
        )  # fmt: skip
        session.commit()
    assert [o["ticket_id"] for o in offers(staff)] == [walk.json()["id"]]
    with Session(ctx.engine) as session:
        assert session.get(QueueTicket, booked.id).status == "done"  # type: ignore[union-attr]


def test_yesterdays_tickets_do_not_ring_today(
    app: FastAPI, ctx: AppContext, city: MiniCity, clock: FixedClock
) -> None:
    kiosk = TestClient(app)
    token = kiosk_token(ctx, city)
    old = kiosk.post(f"/api/v1/kiosk/{token}/tickets", json={"service_id": city.consult_id})
    clock.moment = NOW + timedelta(days=1)
    s0 = staff_client(app, "staff0")
    available(s0)
    assert offers(s0) == []
    assert kiosk.get(f"/api/v1/kiosk/{token}/tickets/{old.json()['id']}").json()["status"] == "left"
    # Numbers start again at 1 on the new day.
    new = kiosk.post(f"/api/v1/kiosk/{token}/tickets", json={"service_id": city.consult_id})
    assert new.json()["number"] == 1
    assert [o["ticket_id"] for o in offers(s0)] == [new.json()["id"]]


def test_an_answered_walk_in_leaves_a_session_record(
    app: FastAPI, ctx: AppContext, city: MiniCity, clock: FixedClock
) -> None:
    s0 = staff_client(app, "staff0")
    kiosk = TestClient(app)
    token = kiosk_token(ctx, city)
    taken = kiosk.post(f"/api/v1/kiosk/{token}/tickets", json={"service_id": city.consult_id})
    assert taken.status_code == 201
    clock.moment = NOW + timedelta(minutes=3)  # three minutes in the queue
    available(s0)
    accepted = s0.post(f"/api/v1/staff/offers/{offers(s0)[0]['id']}/accept").json()
    room = accepted["room"]
    # What the signaling server records for the call (kiosk, staff, both connected, end).
    with Session(ctx.engine) as session:
        for kind, minutes, pid, role in [
            ("join", 3.1, f"kiosk:{city.kiosk_id}", "kiosk"),
            ("join", 3.2, accepted["participant"], "staff"),
            ("call-start", 3.3, None, None),
            ("call-end", 10.3, accepted["participant"], "staff"),
        ]:
            session.add(
                CallEventRow(
                    room=room,
                    kind=kind,
                    at=NOW + timedelta(minutes=minutes),
                    participant=pid,
                    role=role,
                    node="n1",
                    detail={},
                )
            )
        session.commit()
    clock.moment = NOW + timedelta(minutes=11)
    jobs.run_once(ctx, None)
    with Session(ctx.engine) as session:
        record = session.scalars(select(SessionRecord).where(SessionRecord.room == room)).one()
        kiosk_row = session.get(Kiosk, city.kiosk_id)
        assert kiosk_row is not None
        assert (record.kind, record.channel, record.booking_id) == ("walk-in", "kiosk", None)
        assert (record.kiosk_id, record.branch_id) == (city.kiosk_id, kiosk_row.branch_id)
        assert record.service_id == city.consult_id
        # Waited from taking the ticket until staff joined: 3 min 12 s; talked 7 min.
        assert record.queued_at == NOW  # the ticket, taken at NOW
        assert record.wait_seconds == 192 and record.talk_seconds == 420
        assert record.closed and not record.no_show
