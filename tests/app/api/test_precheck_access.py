"""Who may use the server-side echo peer, and what browsers get for calls."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests_app_helpers import book  # type: ignore[import-not-found]

OFFER = {"sdp": "v=0\r\n", "type": "offer"}


def test_precheck_needs_a_join_link_or_a_staff_session(client: TestClient, city) -> None:
    assert client.post("/api/v1/precheck", json=OFFER).status_code == 401
    r = client.post("/api/v1/precheck?token=forged", json=OFFER)
    assert r.status_code == 403
    # A resident's link works days before its window opens (device check ahead).
    join = book(client, city.consult_id, "2026-12-01T10:00:00+09:00").json()["join_url"]
    token = join.rsplit("/", 1)[1]
    r = client.post("/api/v1/precheck", json=OFFER, headers={"X-Join-Token": token})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "precheck-invalid-offer"
    client.post("/api/v1/auth/login", json={"login": "staff0", "password": "pw"})
    assert client.post("/api/v1/precheck", json=OFFER).status_code == 400


def test_rtc_config_names_signaling_and_no_ice_servers_by_default(client: TestClient) -> None:
    body = client.get("/api/v1/rtc-config").json()
    assert body == {
        "iceServers": [],
        "iceTransportPolicy": "all",
        "signalingUrl": "ws://127.0.0.1:8765/ws",
    }
