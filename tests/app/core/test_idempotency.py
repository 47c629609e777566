"""``Idempotency-Key`` on ``POST /api/v1/bookings``: retries book once, even concurrently."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests_app_helpers import book  # type: ignore[import-not-found]

from app.core.context import AppContext
from app.core.idempotency import IdempotencyKey
from app.core.outbox import OutboxMail
from scheduler.models import Booking

TEN = "2026-12-01T10:00:00+09:00"


def count(ctx: AppContext, column: object) -> int:
    with Session(ctx.engine) as s:
        return int(s.scalar(select(func.count(column))) or 0)  # type: ignore[call-overload]


def test_a_retried_request_returns_the_same_booking(
    client: TestClient, city, ctx: AppContext
) -> None:
    key = {"Idempotency-Key": "retry-0001-abcdef"}
    first = book(client, city.consult_id, TEN, headers=key)
    again = book(client, city.consult_id, TEN, headers=key)
    assert first.status_code == again.status_code == 201, again.text
    assert first.json()["code"] == again.json()["code"]
    assert count(ctx, Booking.id) == 1
    assert count(ctx, OutboxMail.id) == 1  # one confirmation
    other = book(client, city.consult_id, TEN, headers={"Idempotency-Key": "retry-0002-abcdef"})
    assert other.status_code == 201 and other.json()["code"] != first.json()["code"]
    assert count(ctx, Booking.id) == 2


def test_a_key_reused_for_another_request_is_refused(
    client: TestClient, city, ctx: AppContext
) -> None:
    key = {"Idempotency-Key": "reuse-0001-abcdef"}
    assert book(client, city.consult_id, TEN, headers=key).status_code == 201
    r = book(client, city.consult_id, "2026-12-01T11:00:00+09:00", headers=key)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid-booking-request"
    assert count(ctx, Booking.id) == 1


def test_a_failed_request_leaves_the_key_free(client: TestClient, city, ctx: AppContext) -> None:
    for _ in range(3):  # three staff: the slot is then full
        assert book(client, city.consult_id, TEN).status_code == 201
    key = {"Idempotency-Key": "full-0001-abcdef"}
    assert book(client, city.consult_id, TEN, headers=key).status_code == 409
    assert count(ctx, IdempotencyKey.key) == 0


def test_concurrent_requests_with_one_key_book_once(
    client: TestClient, city, ctx: AppContext
) -> None:
    key = {"Idempotency-Key": "storm-0001-abcdef"}
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda _: book(client, city.consult_id, TEN, headers=key), range(8))
        )
    assert {r.status_code for r in answers} == {201}
    assert len({r.json()["code"] for r in answers}) == 1
    assert count(ctx, Booking.id) == 1
    assert count(ctx, OutboxMail.id) == 1
