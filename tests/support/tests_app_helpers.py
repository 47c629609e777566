"""Small request helpers shared by the API tests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def book(
    client: TestClient,
    service_id: int,
    start: str,
    *,
    channel: str = "online",
    kiosk_id: int | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Any:
    body: dict[str, Any] = {
        "service_id": service_id,
        "start": start,
        "channel": channel,
        "name": "山田 花子",
        "email": "hanako@example.jp",
        **extra,
    }
    if kiosk_id is not None:
        body["kiosk_id"] = kiosk_id
    return client.post("/api/v1/bookings", json=body, headers=headers or {})


def slot_starts(client: TestClient, service_id: int, day: str) -> list[str]:
    r = client.get(f"/api/v1/services/{service_id}/availability", params={"from": day, "to": day})
    assert r.status_code == 200, r.text
    return [s["start"] for s in r.json()["slots"]]
