"""The rush queue over JSON, and a rush service's booking API without and with an admission."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session
from tests_app_helpers import book, slot_starts  # type: ignore[import-not-found]

from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.tokens import Purpose, Tokens
from scheduler.models import Service

DAY = "2026-12-01"  # Tuesday


@pytest.fixture
def rush(ctx: AppContext, city: Any) -> int:
    with Session(ctx.engine) as s:
        s.execute(update(Service).where(Service.id == city.consult_id).values(rush=True))
        s.commit()
    return int(city.consult_id)


def admitted(client: TestClient, clock: FixedClock, service_id: int) -> dict[str, Any]:
    r = client.post(f"/api/v1/rush/services/{service_id}/tickets")
    assert r.status_code == 201, r.text
    place = r.json()
    assert place["state"] == "waiting" and place["admission"] is None
    assert int(r.headers["Retry-After"]) == place["retry_after"] >= 1
    clock.moment += timedelta(seconds=place["eta_seconds"])
    r = client.get(f"/api/v1/rush/tickets/{place['ticket']}")
    assert r.status_code == 200
    place = r.json()
    assert place["state"] == "admitted" and place["admission"]
    assert "Retry-After" not in r.headers
    return place


def assert_queue_first(r: Any, code: str, service_id: int) -> None:
    assert r.status_code == 429
    assert r.json()["error"]["code"] == code and r.json()["error"]["message"]
    assert int(r.headers["Retry-After"]) >= 1
    assert r.headers["Link"] == f'</api/v1/rush/services/{service_id}/tickets>; rel="queue"'


def test_booking_a_rush_service_needs_an_admission_from_its_queue(
    client: TestClient, clock: FixedClock, rush: int
) -> None:
    start = slot_starts(client, rush, DAY)[0]
    r = book(client, rush, start)
    assert_queue_first(r, "admission-required", rush)
    assert "列に並んで" in r.json()["error"]["message"]

    place = admitted(client, clock, rush)
    r = book(client, rush, start, headers={"X-Rush-Admission": place["admission"]})
    assert r.status_code == 201, r.text
    # One admission, one booking.
    again = slot_starts(client, rush, DAY)[0]
    r = book(client, rush, again, headers={"X-Rush-Admission": place["admission"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "admission-used"
    assert client.get(f"/api/v1/rush/tickets/{place['ticket']}").json()["state"] == "booked"


def test_forged_and_expired_admissions_send_the_client_back_to_the_queue(
    client: TestClient, clock: FixedClock, ctx: AppContext, rush: int
) -> None:
    start = slot_starts(client, rush, DAY)[0]
    place = admitted(client, clock, rush)
    forged = Tokens("not-the-city-secret-" + "f" * 40).issue(
        Purpose.RUSH_ADMISSION, {"s": rush, "n": place["number"]}
    )
    for token in (forged, place["ticket"], "garbage"):
        r = book(client, rush, start, headers={"X-Rush-Admission": token})
        assert_queue_first(r, "admission-invalid", rush)
    clock.moment += timedelta(minutes=ctx.settings.rush_admission_minutes)
    r = book(client, rush, start, headers={"X-Rush-Admission": place["admission"]})
    assert_queue_first(r, "admission-expired", rush)
    assert client.get(f"/api/v1/rush/tickets/{place['ticket']}").json()["state"] == "expired"
    # A forged ticket is a bad link, in the one envelope.
    r = client.get("/api/v1/rush/tickets/forged")
    assert r.status_code == 403 and r.json()["error"]["code"] == "token-invalid"


def test_ordinary_services_have_no_queue_and_book_as_before(client: TestClient, city: Any) -> None:
    r = client.post(f"/api/v1/rush/services/{city.capped_id}/tickets")
    assert r.status_code == 409 and r.json()["error"]["code"] == "not-rush"
    start = slot_starts(client, city.consult_id, DAY)[0]
    assert book(client, city.consult_id, start).status_code == 201


def test_before_opening_the_queue_says_when(
    client: TestClient, clock: FixedClock, ctx: AppContext, rush: int
) -> None:
    with Session(ctx.engine) as s:
        s.execute(
            update(Service)
            .where(Service.id == rush)
            .values(rush_opens_at=clock.now() + timedelta(minutes=30))
        )
        s.commit()
    r = client.post(f"/api/v1/rush/services/{rush}/tickets")
    assert r.status_code == 409 and r.json()["error"]["code"] == "queue-not-open"
    assert r.headers["Retry-After"] == str(30 * 60 + 1)


def test_the_schema_declares_the_queue_answers(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    booking = paths["/api/v1/bookings"]["post"]
    assert "429" in booking["responses"] and "409" in booking["responses"]
    assert any(p["name"] == "x-rush-admission" for p in booking["parameters"])
    assert "409" in paths["/api/v1/rush/services/{service_id}/tickets"]["post"]["responses"]
