"""coturn accepts the app's per-call TURN credentials, and only those.

A real TURN client (aioice's, the one aiortc uses) asks coturn in the DMZ for
an allocation from the staff network. The valid credentials come from the
app's ``/api/v1/rtc-config`` endpoint for a join token, so the test also
shows that the app and coturn agree on the secret and the username format.

coturn's ``use-auth-secret`` checks only the HMAC of the username and the
expiry in it: it cannot know which call a client is in. What binds a
credential to its call is that the call id is part of the signed username, so
a password cannot be carried over to another call's name.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aioice.stun import TransactionFailed
from aioice.turn import create_turn_endpoint
from call_harness import join_token
from city_harness import APP_SECRET, INTERNAL_URL, TURN_SECRET, City
from coturn_helpers import SHIPPED_CONF
from topology import TURN_ADDR, TURN_PORT, TURNS_PORT

from app.calls.turn import turn_credential

pytestmark = [pytest.mark.media]


def _relay_ports() -> range:
    """min-port..max-port as docker/turnserver.conf ships them."""
    conf = SHIPPED_CONF.read_text(encoding="utf-8")
    low, high = (
        int(match[1])
        for key in ("min-port", "max-port")
        if (match := re.search(rf"^{key}=(\d+)$", conf, re.MULTILINE))
    )
    return range(low, high + 1)


RELAY_PORTS = _relay_ports()


@pytest.fixture(autouse=True)
def open_network(city: City) -> None:
    """Nothing blocked between the staff network and the DMZ (the call tests change it)."""
    city.net.set_egress("udp")


class _Sink(asyncio.DatagramProtocol):
    """Receives nothing; tells when the allocation is deleted and the socket closed."""

    def __init__(self) -> None:
        self.closed = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def rtc_config(city: City, room: str) -> dict[str, Any]:
    """What the app gives a browser joining ``room``, asked from the staff network."""
    token = join_token(room, "staff", f"s-{room}", secret=APP_SECRET)

    async def fetch() -> dict[str, Any]:
        async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
            response = await client.get(
                f"{INTERNAL_URL}/api/v1/rtc-config", params={"token": token}
            )
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            return body

    return city.net.staff.run(fetch, timeout=20)


def turn_entry(config: dict[str, Any]) -> tuple[str, str]:
    [entry] = [s for s in config["iceServers"] if "username" in s]
    return entry["username"], entry["credential"]


def allocate(city: City, username: str, password: str, transport: str) -> tuple[str, int]:
    """One TURN allocation from the staff network; the relayed address."""

    async def attempt() -> tuple[str, int]:
        context = None
        port = TURN_PORT
        if transport == "tls":
            context = ssl.create_default_context(cafile=str(city.tls.ca))
            port = TURNS_PORT
        endpoint, sink = await create_turn_endpoint(
            _Sink,
            server_addr=(TURN_ADDR, port),
            username=username,
            password=password,
            ssl=context,
            transport="udp" if transport == "udp" else "tcp",
        )
        try:
            relayed: tuple[str, int] = endpoint.get_extra_info("sockname")
            return relayed
        finally:
            endpoint.close()
            await asyncio.wait_for(sink.closed, 10)

    return city.net.staff.run(attempt, timeout=30)


def refusal_code(city: City, username: str, password: str) -> int:
    with pytest.raises(TransactionFailed) as refused:
        allocate(city, username, password, "udp")
    code: int = refused.value.response.attributes["ERROR-CODE"][0]
    return code


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_coturn_relays_with_the_apps_per_call_credentials(city: City, transport: str) -> None:
    username, password = turn_entry(rtc_config(city, "bk-turn-ok"))
    assert username.endswith(":bk-turn-ok")
    host, port = allocate(city, username, password, transport)
    assert host == TURN_ADDR
    assert port in RELAY_PORTS


def test_coturn_refuses_an_expired_credential(city: City) -> None:
    yesterday = datetime.now(UTC) - timedelta(days=1)
    cred = turn_credential(TURN_SECRET, "bk-turn-old", yesterday, timedelta(hours=3))
    assert cred.expires < datetime.now(UTC)
    assert refusal_code(city, cred.username, cred.credential) == 401


def test_coturn_refuses_a_credential_signed_with_another_secret(city: City) -> None:
    cred = turn_credential(
        "not-the-city-secret", "bk-turn-forged", datetime.now(UTC), timedelta(hours=1)
    )
    assert refusal_code(city, cred.username, cred.credential) == 401


def test_coturn_refuses_one_calls_password_under_another_calls_name(city: City) -> None:
    name_a, password_a = turn_entry(rtc_config(city, "bk-turn-a"))
    name_b, password_b = turn_entry(rtc_config(city, "bk-turn-b"))
    assert refusal_code(city, name_b, password_a) == 401
    assert refusal_code(city, name_a, password_b) == 401
