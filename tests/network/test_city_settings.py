"""The allow-list sees real source addresses: staff pages from the staff network only.

The app in the DMZ runs with ``MADOGUCHI_STAFF_NETWORKS`` set to the staff
network (conftest). A request's source address, not the address it was sent
to, decides: the resident network reaches the DMZ's internal address too, and
still gets 404.
"""

from __future__ import annotations

import httpx
import pytest
from city_harness import INTERNAL_URL, PUBLIC_URL, City

from media.loopback import NetworkNamespace

STAFF_PAGES = ["/staff/login", "/admin", "/api/v1/staff/offers", "/api/v1/auth/me"]


@pytest.fixture(autouse=True)
def open_network(city: City) -> None:
    city.net.set_egress("udp")


def statuses(ns: NetworkNamespace, base_url: str, paths: list[str]) -> dict[str, int]:
    async def fetch() -> dict[str, int]:
        async with httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=5) as client:
            return {path: (await client.get(path)).status_code for path in paths}

    return ns.run(fetch, timeout=30)


def test_staff_pages_answer_the_staff_network_and_404_elsewhere(city: City) -> None:
    from_staff = statuses(city.net.staff, INTERNAL_URL, ["/staff/login", "/admin"])
    # /admin sends a visitor who is not logged in to the login page.
    assert from_staff == {"/staff/login": 200, "/admin": 303}, from_staff
    for base_url in (PUBLIC_URL, INTERNAL_URL):
        from_resident = statuses(city.net.resident, base_url, STAFF_PAGES)
        assert set(from_resident.values()) == {404}, (base_url, from_resident)
    assert statuses(city.net.resident, PUBLIC_URL, ["/"]) == {"/": 200}
