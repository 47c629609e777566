"""Invitations (a third participant) and hand-over links from the staff console."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from call_page_helpers import NOW, add_booking, app_data  # type: ignore[import-not-found]
from call_team_helpers import login
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.tokens import Purpose
from scheduler.models import Booking


@pytest.fixture
def booking(city_engine: tuple[Engine, object], city: object) -> Booking:
    # The capped service: only staff0 is qualified, so staff1 is "another department".
    return add_booking(city_engine[0], city.staff_ids[0], city.capped_id, NOW + timedelta(hours=1))  # type: ignore[attr-defined]


def handover(client: TestClient, booking: Booking, staff_id: int, mode: str) -> dict[str, str]:
    r = client.post(
        f"/api/v1/staff/bookings/{booking.code}/handover",
        json={"staff_id": staff_id, "mode": mode},
    )
    assert r.status_code == 201, r.text
    out: dict[str, str] = r.json()
    return out


def test_invite_link_opens_the_join_page_as_an_interpreter(
    client: TestClient, ctx: AppContext, clock: FixedClock, booking: Booking
) -> None:
    body = {"role": "interpreter", "name": "Ana Souza"}
    assert (
        client.post(f"/api/v1/staff/bookings/{booking.code}/invite", json=body).status_code == 401
    )
    login(client, "staff1")  # not qualified for this service
    r = client.post(f"/api/v1/staff/bookings/{booking.code}/invite", json=body)
    assert r.status_code == 403
    login(client, "staff0")
    r = client.post(f"/api/v1/staff/bookings/{booking.code}/invite", json=body)
    assert r.status_code == 201, r.text
    out = r.json()
    token = out["url"].rsplit("/join/", 1)[1]
    clock.moment = booking.start_at
    claims = ctx.tokens.verify(Purpose.JOIN, token, now=clock.moment)
    assert claims["room"] == booking.room_id
    assert (claims["role"], claims["name"], claims["pid"]) == (
        "interpreter",
        "Ana Souza",
        out["participant"],
    )
    page = client.get(f"/join/{token}")
    assert page.status_code == 200
    assert app_data(page.text)["role"] == "interpreter"
    # Only a third participant's roles: nobody can mint a staff seat this way.
    bad = client.post(
        f"/api/v1/staff/bookings/{booking.code}/invite", json={"role": "staff", "name": "x"}
    )
    assert bad.status_code == 422


@pytest.mark.parametrize("mode", ["warm", "cold"])
def test_hand_over_link_lets_a_colleague_of_another_department_join(
    client: TestClient, ctx: AppContext, city: object, booking: Booking, mode: str
) -> None:
    staff1 = city.staff_ids[1]  # type: ignore[attr-defined]
    login(client, "staff0")
    out = handover(client, booking, staff1, mode)
    assert out["target"] == f"staff:{staff1}" and out["mode"] == mode
    url = urlsplit(out["url"])
    token = parse_qs(url.query)["handover"][0]
    assert url.path == f"/staff/call/{booking.code}"

    login(client, "staff1")
    # Without the link the colleague may not open this call ...
    assert client.get(f"/staff/call/{booking.code}").status_code == 403
    assert client.post(f"/api/v1/staff/bookings/{booking.code}/join").status_code == 403
    # ... with it they may, and their tickets come from the hand-over.
    page = client.get(f"{url.path}?{url.query}")
    assert page.status_code == 200
    ticket_url = app_data(page.text)["ticket-url"]
    assert ticket_url == f"/api/v1/staff/handover/{token}/join"
    r = client.post(ticket_url)
    assert r.status_code == 200, r.text
    claims = ctx.tokens.verify(Purpose.JOIN, r.json()["token"], now=ctx.clock.now())
    assert claims["room"] == booking.room_id and claims["role"] == "staff"
    assert claims["pid"] == f"staff:{staff1}"
    # Warm: the extra staff seat, beside the first staff member; cold: the ordinary one.
    assert claims.get("handover", False) is (mode == "warm")


def test_hand_over_link_is_personal_and_tamper_proof(
    client: TestClient, city: object, booking: Booking
) -> None:
    staff_ids = city.staff_ids  # type: ignore[attr-defined]
    login(client, "staff0")
    out = handover(client, booking, staff_ids[1], "warm")
    token = parse_qs(urlsplit(out["url"]).query)["handover"][0]
    r = client.post(
        f"/api/v1/staff/bookings/{booking.code}/handover",
        json={"staff_id": staff_ids[0], "mode": "warm"},
    )
    assert r.status_code == 422  # not to oneself
    login(client, "staff2")  # someone else holding the link
    assert client.post(f"/api/v1/staff/handover/{token}/join").status_code == 403
    assert client.get(f"/staff/call/{booking.code}?handover={token}").status_code == 403
    login(client, "staff1")
    assert client.post(f"/api/v1/staff/handover/{token}x/join").status_code == 403
    assert client.post(f"/api/v1/staff/handover/{token}/join").status_code == 200
