"""What the outbox mails a resident also reaches their linked LINE user, once, with buttons.

Delivery errors from the stand-in platform: 429 honours Retry-After, 5xx backs
off, any other 4xx fails at once for the admin to see, 403 (blocked) makes the
user's links inactive.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from admin_page_helpers import login  # type: ignore[import-not-found]
from fastapi.testclient import TestClient
from line_helpers import CHANNEL_SECRET, USER, post, postback  # type: ignore[import-not-found]
from line_platform import LinePlatform  # type: ignore[import-not-found]
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests_app_helpers import book  # type: ignore[import-not-found]

from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.outbox import OutboxMail, OutboxStatus, troubled
from app.line.channel import LineChannel
from app.line.client import messaging_api
from app.line.links import link
from app.line.models import LineLink, LinkVia
from app.ops import jobs
from scheduler.models import Booking

TEN = "2026-12-01T10:00:00+09:00"


def line_rows(ctx: AppContext) -> list[OutboxMail]:
    with Session(ctx.engine) as s:
        return list(
            s.scalars(
                select(OutboxMail).where(OutboxMail.channel == "line").order_by(OutboxMail.id)
            )
        )


def booked_and_linked(client: TestClient, ctx: AppContext, city: Any) -> dict[str, Any]:
    r = book(client, city.consult_id, TEN)
    assert r.status_code == 201, r.text
    with Session(ctx.engine) as s, s.begin():
        booking = s.scalar(select(Booking).where(Booking.code == r.json()["code"]))
        assert booking is not None
        link(s, USER, ctx.clock.now(), booking_id=booking.id, via=LinkVia.CODE)
    result: dict[str, Any] = r.json()
    return result


def test_confirmation_change_and_cancellation_reach_line_once_each(
    client: TestClient, ctx: AppContext, city: Any, line: LinePlatform
) -> None:
    out = booked_and_linked(client, ctx, city)
    jobs.run_once(ctx, None)
    token = out["manage_url"].rsplit("/", 1)[1]
    moved = client.post(
        f"/api/v1/bookings/{token}/reschedule", json={"start": "2026-12-01T11:00:00+09:00"}
    )
    assert moved.status_code == 200, moved.text
    assert client.post(f"/api/v1/bookings/{token}/cancel").status_code == 200
    jobs.run_once(ctx, None)
    jobs.run_once(ctx, None)
    pushes = line.pushes()
    assert len(pushes) == 3
    texts = [p["json"]["messages"][0]["text"] for p in pushes]
    assert "ご予約を受け付けました" in texts[0]
    assert "ご予約の日時を変更しました" in texts[1]
    assert "ご予約を取り消しました" in texts[2]
    # join / change or cancel / calendar buttons; a cancellation has none.
    assert len(pushes[0]["json"]["messages"][1]["template"]["actions"]) == 3
    assert len(pushes[2]["json"]["messages"]) == 1
    assert all(p["headers"]["x-line-retry-key"] for p in pushes)
    assert [r.status for r in line_rows(ctx)] == [OutboxStatus.SENT] * 3


def test_429_waits_at_least_retry_after(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any, line: LinePlatform
) -> None:
    booked_and_linked(client, ctx, city)
    line.fail(429, path="/v2/bot/message/push", retry_after="120")
    jobs.run_once(ctx, None)
    (row,) = line_rows(ctx)
    assert row.status == OutboxStatus.PENDING and "429" in (row.last_error or "")
    assert row.next_attempt_at == clock.now() + timedelta(seconds=120)
    clock.moment += timedelta(seconds=119)
    jobs.run_once(ctx, None)
    assert line.pushes() == []
    clock.moment += timedelta(seconds=1)
    jobs.run_once(ctx, None)
    assert len(line.pushes()) == 1
    assert line_rows(ctx)[0].status == OutboxStatus.SENT


def test_5xx_is_retried_with_back_off(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any, line: LinePlatform
) -> None:
    booked_and_linked(client, ctx, city)
    line.fail(500, path="/v2/bot/message/push", times=2)
    jobs.run_once(ctx, None)
    first = line_rows(ctx)[0]
    assert first.attempts == 1 and first.next_attempt_at == clock.now() + timedelta(seconds=30)
    clock.moment += timedelta(seconds=30)
    jobs.run_once(ctx, None)
    second = line_rows(ctx)[0]
    assert second.attempts == 2 and second.next_attempt_at == clock.now() + timedelta(seconds=60)
    clock.moment += timedelta(seconds=60)
    jobs.run_once(ctx, None)
    assert len(line.pushes()) == 1


def test_another_4xx_is_not_retried_and_shows_on_the_admin_page(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any, line: LinePlatform
) -> None:
    booked_and_linked(client, ctx, city)
    line.fail(400, path="/v2/bot/message/push")
    jobs.run_once(ctx, None)
    clock.moment += timedelta(minutes=50)
    jobs.run_once(ctx, None)
    assert len(line.calls("/v2/bot/message/push")) == 1
    (row,) = line_rows(ctx)
    assert row.status == OutboxStatus.FAILED and row.attempts == 1
    with Session(ctx.engine) as s:
        assert [r.id for r in troubled(s, clock.now())] == [row.id]
    login(client)
    page = client.get("/admin/outbox")
    assert page.status_code == 200
    assert "LINE 400" in page.text and "(line)" in page.text
    assert [r.active for r in _links(ctx)] == [True]  # a bad request says nothing of the user


def _links(ctx: AppContext) -> list[LineLink]:
    with Session(ctx.engine) as s:
        return list(s.scalars(select(LineLink)))


def test_a_user_who_blocked_the_account_is_marked_inactive(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any, line: LinePlatform
) -> None:
    out = booked_and_linked(client, ctx, city)
    line.block(USER)
    jobs.run_once(ctx, None)
    assert [r.active for r in _links(ctx)] == [False]
    assert line_rows(ctx)[0].status == OutboxStatus.FAILED
    token = out["manage_url"].rsplit("/", 1)[1]
    client.post(f"/api/v1/bookings/{token}/cancel")
    jobs.run_once(ctx, None)
    assert len(line_rows(ctx)) == 1  # nothing more queued for the blocked user


def test_a_push_line_already_accepted_counts_as_delivered(
    client: TestClient, ctx: AppContext, city: Any, line: LinePlatform
) -> None:
    booked_and_linked(client, ctx, city)
    jobs.run_once(ctx, None)
    (row,) = line_rows(ctx)
    channel = LineChannel(
        messaging_api(ctx.settings),
        ctx.writer_sessions,
        ctx.clock,
        base_url=ctx.settings.public_base_url,
    )
    channel.deliver(row)  # a worker that died before recording "sent" sends again
    statuses = [c["status"] for c in line.calls("/v2/bot/message/push")]
    assert statuses == [200, 409]


def test_a_waiting_list_offer_is_claimed_with_a_postback(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any, line: LinePlatform
) -> None:
    day = date(2026, 12, 1)
    taken = book(client, city.consult_id, TEN).json()
    joined = client.post(
        "/api/v1/waitlist",
        json={
            "service_id": city.consult_id,
            "day": day.isoformat(),
            "name": "待ち 太郎",
            "email": "taro@example.jp",
        },
    )
    assert joined.status_code == 201, joined.text
    with Session(ctx.engine) as s, s.begin():
        link(s, USER, clock.now(), waitlist_entry_id=joined.json()["id"], via=LinkVia.LOGIN)
    token = taken["manage_url"].rsplit("/", 1)[1]
    assert client.post(f"/api/v1/bookings/{token}/cancel").status_code == 200
    jobs.run_once(ctx, None)
    (offer,) = line.pushes()
    actions = offer["json"]["messages"][1]["template"]["actions"]
    assert actions[0]["type"] == "postback"
    assert actions[0]["data"] == f"action=claim&entry={joined.json()['id']}"

    assert (
        post(client, CHANNEL_SECRET, postback(clock.now(), actions[0]["data"])).status_code == 200
    )
    jobs.run_once(ctx, None)
    jobs.run_once(ctx, None)
    with Session(ctx.engine) as s:
        claimed = s.scalars(
            select(Booking).where(Booking.resident_email == "taro@example.jp")
        ).all()
    assert len(claimed) == 1
    texts = [p["json"]["messages"][0]["text"] for p in line.pushes()[1:]]
    assert any("予約しました" in t for t in texts)
    assert any("ご予約を受け付けました" in t for t in texts)  # the confirmation, fanned out too
    # A second tap: the offer is gone, nothing more is booked.
    post(client, CHANNEL_SECRET, postback(clock.now(), actions[0]["data"]))
    jobs.run_once(ctx, None)
    assert "この枠はすでに埋まりました" in line.pushes()[-1]["json"]["messages"][0]["text"]


def test_a_postback_claim_for_an_entry_not_linked_is_refused(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any, line: LinePlatform
) -> None:
    post(client, CHANNEL_SECRET, postback(clock.now(), "action=claim&entry=1"))
    jobs.run_once(ctx, None)
    assert "このボタンは使えなくなりました" in line.pushes()[-1]["json"]["messages"][0]["text"]
