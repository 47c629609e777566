"""TURN REST API credentials per call, and what /api/v1/rtc-config hands out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests_app_helpers import book  # type: ignore[import-not-found]

from app.calls.turn import turn_credential
from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.tokens import Purpose

TURN_SECRET = "north-turn-secret"


def test_credential_matches_an_independent_hmac() -> None:
    # Expected value computed outside Python:
    #   printf '%s' '1764547200:room-abc' | openssl dgst -sha1 -hmac north-turn-secret -binary | base64
    now = datetime(2025, 12, 1, tzinfo=UTC) - timedelta(hours=2)
    cred = turn_credential(TURN_SECRET, "room-abc", now, timedelta(hours=2))
    assert cred.username == "1764547200:room-abc"
    assert cred.credential == "4j1NHEeguCmyV/s0CW8uEXvDVQk="
    assert cred.expires == datetime(2025, 12, 1, tzinfo=UTC)


def test_credentials_differ_per_call_and_secret() -> None:
    now = datetime(2026, 11, 30, tzinfo=UTC)
    a = turn_credential(TURN_SECRET, "room-a", now, timedelta(hours=1))
    b = turn_credential(TURN_SECRET, "room-b", now, timedelta(hours=1))
    c = turn_credential("another-secret", "room-a", now, timedelta(hours=1))
    assert len({a.credential, b.credential, c.credential}) == 3
    with pytest.raises(ValueError, match="':'"):
        turn_credential(TURN_SECRET, "evil:room", now, timedelta(hours=1))


@pytest.fixture
def turn_ctx(ctx: AppContext) -> AppContext:
    ctx.settings.ice_servers = ["stun:stun.city.example:3478"]
    ctx.settings.turn_urls = ["turn:turn.city.example:3478?transport=udp"]
    ctx.settings.turn_secret = TURN_SECRET
    ctx.settings.turn_ttl_minutes = 90
    return ctx


def test_rtc_config_gives_turn_only_for_a_valid_join_link(
    client: TestClient, turn_ctx: AppContext, clock: FixedClock, city: Any
) -> None:
    booking = book(client, city.consult_id, "2026-11-30T14:00:00+09:00").json()
    token = booking["join_url"].rsplit("/", 1)[1]
    clock.moment = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)  # 14:00 JST, the call
    body = client.get("/api/v1/rtc-config", params={"token": token}).json()
    stun, turn = body["iceServers"]
    assert stun == {"urls": ["stun:stun.city.example:3478"]}
    assert turn["urls"] == ["turn:turn.city.example:3478?transport=udp"]
    expiry, call_id = turn["username"].split(":")
    assert int(expiry) == int((clock.moment + timedelta(minutes=90)).timestamp())
    expected = turn_credential(TURN_SECRET, call_id, clock.moment, timedelta(minutes=90))
    assert turn["credential"] == expected.credential
    # The call id is the booking's room: the credential names that call only.
    assert call_id == turn_ctx.tokens.verify(Purpose.JOIN, token, now=clock.now())["room"]
    # No link, or a forged one: STUN only.
    for params in ({}, {"token": "forged"}, {"room": call_id}):
        assert client.get("/api/v1/rtc-config", params=params).json()["iceServers"] == [stun]


def test_rtc_config_gives_logged_in_staff_turn_for_a_room(
    client: TestClient, turn_ctx: AppContext, city: Any
) -> None:
    login = client.post("/api/v1/auth/login", json={"login": "staff0", "password": "pw"})
    assert login.status_code == 200
    servers = client.get("/api/v1/rtc-config", params={"room": "room-xyz"}).json()["iceServers"]
    assert servers[1]["username"].endswith(":room-xyz")


def test_call_pages_point_rtc_config_at_their_call(
    client: TestClient, turn_ctx: AppContext, clock: FixedClock, city: Any
) -> None:
    booking = book(client, city.consult_id, "2026-11-30T14:00:00+09:00").json()
    token = booking["join_url"].rsplit("/", 1)[1]
    clock.moment = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
    page = client.get(f"/join/{token}")
    assert page.status_code == 200
    assert f'data-rtc-config-url="/api/v1/rtc-config?token={token}"' in page.text


def _join_token(ctx: AppContext, clock: FixedClock, role: str) -> str:
    return ctx.tokens.issue(
        Purpose.JOIN,
        {"room": "room-p", "role": role, "pid": f"{role}-1", "name": role},
        not_before=clock.now() - timedelta(minutes=1),
        expires=clock.now() + timedelta(hours=1),
    )


def test_relay_only_policy_goes_to_staff_consoles_and_kiosks_only(
    client: TestClient, turn_ctx: AppContext, clock: FixedClock, city: Any
) -> None:
    turn_ctx.settings.staff_ice_policy = "relay"
    policy = {
        role: client.get(
            "/api/v1/rtc-config", params={"token": _join_token(turn_ctx, clock, role)}
        ).json()["iceTransportPolicy"]
        for role in ("staff", "kiosk", "resident", "interpreter")
    }
    assert policy == {"staff": "relay", "kiosk": "relay", "resident": "all", "interpreter": "all"}
    # A logged-in staff console asking for its room, and a stranger asking for it.
    stranger = client.get("/api/v1/rtc-config", params={"room": "room-p"}).json()
    assert stranger["iceTransportPolicy"] == "all"
    login = client.post("/api/v1/auth/login", json={"login": "staff0", "password": "pw"})
    assert login.status_code == 200
    console = client.get("/api/v1/rtc-config", params={"room": "room-p"}).json()
    assert console["iceTransportPolicy"] == "relay"


def test_without_the_relay_policy_everyone_may_connect_directly(
    client: TestClient, turn_ctx: AppContext, clock: FixedClock, city: Any
) -> None:
    assert turn_ctx.settings.staff_ice_policy == "all"
    for role in ("staff", "kiosk", "resident"):
        token = _join_token(turn_ctx, clock, role)
        body = client.get("/api/v1/rtc-config", params={"token": token}).json()
        assert body["iceTransportPolicy"] == "all"
