"""The staff-network allow-list: staff and admin pages and the staff API only from the city.

Here the client address is the one the ASGI scope carries (TestClient's
``client=``); tests/network/test_city_settings.py checks the same with real
source addresses across network namespaces.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.context import AppContext
from app.core.networks import allowed, is_staff_path, parse_networks
from app.core.settings import ConfigurationError, Settings
from app.main import create_app

CITY = ["10.20.0.0/16", "2001:db8:20::/48"]
STAFF_PATHS = ["/staff/login", "/admin", "/api/v1/staff/offers", "/api/v1/auth/me"]


def test_addresses_inside_the_networks_are_allowed() -> None:
    networks = parse_networks(CITY)
    assert allowed(networks, "10.20.3.4")
    assert allowed(networks, "::ffff:10.20.3.4")  # a dual-stack socket's view of IPv4
    assert allowed(networks, "2001:db8:20::1")
    for outside in ("10.21.0.1", "203.0.113.9", "2001:db8:21::1", "testclient", None):
        assert not allowed(networks, outside), outside
    assert allowed(parse_networks([]), "203.0.113.9"), "an empty list allows everyone"


def test_staff_paths_are_the_staff_and_admin_areas_and_the_staff_api() -> None:
    assert all(is_staff_path(p) for p in [*STAFF_PATHS, "/staff", "/api/v1/staff"])
    for path in ("/", "/staffing", "/join/x", "/kiosk/t", "/api/v1/rtc-config", "/administer"):
        assert not is_staff_path(path), path


def test_a_network_that_is_not_cidr_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="MADOGUCHI_STAFF_NETWORKS"):
        Settings(staff_networks=["10.20.0.0/16", "city-lan"])


def test_the_relay_policy_needs_a_turn_server() -> None:
    with pytest.raises(ConfigurationError, match="MADOGUCHI_TURN_URLS"):
        Settings(staff_ice_policy="relay")
    Settings(staff_ice_policy="relay", turn_urls=["turn:t.example:3478"], turn_secret="s")


@pytest.fixture
def gated(ctx: AppContext) -> Iterator[dict[str, TestClient]]:
    ctx.settings.staff_networks = CITY
    app = create_app(ctx)
    with (
        TestClient(app, client=("10.20.3.4", 50000)) as inside,
        TestClient(app, client=("203.0.113.9", 50000)) as outside,
    ):
        yield {"inside": inside, "outside": outside}


def test_staff_pages_and_api_answer_404_outside_the_city_networks(
    gated: dict[str, TestClient], city: Any
) -> None:
    inside, outside = gated["inside"], gated["outside"]
    assert inside.get("/staff/login").status_code == 200
    login = {"login": "staff0", "password": "pw"}
    assert inside.post("/api/v1/auth/login", json=login).status_code == 200
    assert inside.get("/api/v1/auth/me").status_code == 200
    for path in STAFF_PATHS:
        assert outside.get(path).status_code == 404, path
    assert outside.post("/api/v1/auth/login", json=login).status_code == 404
    # Exactly what a URL that does not exist answers: nothing tells them apart.
    page, unknown_page = outside.get("/staff/login"), outside.get("/no-such-page")
    assert page.headers["content-type"] == unknown_page.headers["content-type"]
    api, unknown_api = outside.get("/api/v1/staff/offers"), outside.get("/api/v1/no-such")
    assert api.json() == unknown_api.json()
    # Residents' pages and the call configuration stay open to everyone.
    assert outside.get("/").status_code == 200
    assert outside.get("/api/v1/rtc-config").status_code == 200


def test_without_an_allow_list_staff_pages_answer_everywhere(ctx: AppContext, city: Any) -> None:
    assert ctx.settings.staff_networks == []
    with TestClient(create_app(ctx), client=("203.0.113.9", 50000)) as outside:
        assert outside.get("/staff/login").status_code == 200
