"""POST /line/webhook: signature, event types, redelivery, replay; answers go out by push."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from line_helpers import CHANNEL_SECRET, TOKEN, USER, event, post, text  # type: ignore[import-not-found]
from line_platform import LinePlatform  # type: ignore[import-not-found]
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.clock import FixedClock
from app.core.context import AppContext
from app.line.models import EventStatus, LineEvent
from app.ops import jobs


def stored(ctx: AppContext) -> list[LineEvent]:
    with Session(ctx.engine) as s:
        return list(s.scalars(select(LineEvent).order_by(LineEvent.id)))


def test_a_signed_follow_is_queued_then_answered_by_push(
    client: TestClient, ctx: AppContext, clock: FixedClock, line: LinePlatform
) -> None:
    r = post(client, CHANNEL_SECRET, event("follow", clock.now(), replyToken="r" * 32))
    assert r.status_code == 200, r.text
    assert r.json() == {"stored": 1, "duplicates": 0, "ignored": []}
    (row,) = stored(ctx)
    assert row.status == EventStatus.PENDING and row.line_user_id == USER
    assert line.calls() == []  # nothing was sent inside the request

    assert jobs.run_once(ctx, None) == 1
    (push,) = line.pushes()
    assert push["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert push["json"]["to"] == USER
    assert "予約番号" in push["json"]["messages"][0]["text"]
    assert stored(ctx)[0].status == EventStatus.DONE
    assert jobs.run_once(ctx, None) == 0  # answered once


def test_bad_or_missing_signature_is_400_and_stores_nothing(
    client: TestClient, ctx: AppContext, clock: FixedClock, line: LinePlatform
) -> None:
    follow = event("follow", clock.now())
    bad = post(client, CHANNEL_SECRET, follow, signature="AAAA" + "=" * 40)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "signature-invalid"
    forged = post(client, "another-secret", follow)
    assert forged.status_code == 400
    missing = post(client, CHANNEL_SECRET, follow, signature="")
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "signature-missing"
    assert stored(ctx) == []


def test_redelivery_is_stored_once(
    client: TestClient, ctx: AppContext, clock: FixedClock, line: LinePlatform
) -> None:
    first = text(clock.now(), "こんにちは")
    assert post(client, CHANNEL_SECRET, first).json()["stored"] == 1
    again = dict(first, deliveryContext={"isRedelivery": True})
    r = post(client, CHANNEL_SECRET, again)
    assert r.status_code == 200
    assert r.json() == {"stored": 0, "duplicates": 1, "ignored": []}
    assert len(stored(ctx)) == 1
    jobs.run_once(ctx, None)
    assert len(line.pushes()) == 1


def test_unknown_event_types_are_ignored_unstored_and_named(
    client: TestClient, ctx: AppContext, clock: FixedClock, line: LinePlatform
) -> None:
    beacon = event("beacon", clock.now(), beacon={"hwid": "d41d8cd98f", "type": "enter"})
    joined = event("memberJoined", clock.now())
    r = post(client, CHANNEL_SECRET, beacon, joined, event("follow", clock.now()))
    assert r.status_code == 200
    assert r.json() == {"stored": 1, "duplicates": 0, "ignored": ["beacon", "memberJoined"]}
    assert [e.event_type for e in stored(ctx)] == ["follow"]


def test_a_replayed_old_body_is_refused_whole(
    client: TestClient, ctx: AppContext, clock: FixedClock, line: LinePlatform
) -> None:
    old = event("follow", clock.now() - timedelta(days=2))
    r = post(client, CHANNEL_SECRET, event("follow", clock.now()), old)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "event-stale"
    assert stored(ctx) == []


def test_an_empty_verify_request_is_accepted(
    client: TestClient, ctx: AppContext, line: LinePlatform
) -> None:
    r = post(client, CHANNEL_SECRET)
    assert r.status_code == 200 and r.json()["stored"] == 0


def test_without_a_channel_secret_the_webhook_is_off(
    client: TestClient, ctx: AppContext, clock: FixedClock
) -> None:
    r = post(client, CHANNEL_SECRET, event("follow", clock.now()))
    assert r.status_code == 404
    with Session(ctx.engine) as s:
        assert s.scalar(select(func.count()).select_from(LineEvent)) == 0
