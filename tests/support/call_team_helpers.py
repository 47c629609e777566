"""Helpers shared by several test modules."""

from __future__ import annotations

from call_page_helpers import login as first_login
from fastapi.testclient import TestClient


def login(client: TestClient, who: str) -> None:
    client.post("/api/v1/auth/logout")
    first_login(client, who)
