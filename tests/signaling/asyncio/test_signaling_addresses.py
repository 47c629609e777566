"""Per-address limits on a real server: sockets from 127.0.0.1 and 127.0.0.2 (both
loopback), and through a trusted proxy's X-Forwarded-For."""

from __future__ import annotations

from prometheus_client import REGISTRY
from sig_helpers import Client, issue, make_server

from signaling.core import CoreConfig
from signaling.errors import CloseCode
from signaling.limits import TrustedProxies

OTHER = {"local_addr": ("127.0.0.2", 0)}


def refused_total(reason: str) -> float:
    sample = REGISTRY.get_sample_value(
        "madoguchi_signaling_connections_refused_total", {"reason": reason}
    )
    return sample or 0.0


async def test_unjoined_sockets_from_one_address_are_refused_past_the_cap() -> None:
    before = refused_total("too-many-unjoined")
    async with make_server(config=CoreConfig(unjoined_per_address=5)) as server:
        idle = [await Client.open(server.url) for _ in range(5)]
        extra = await Client.open(server.url)
        assert await extra.close_reason() == (CloseCode.TRY_AGAIN_LATER, "too-many-unjoined")
        # Another address still gets in and joins.
        other = await Client.open(server.url, **OTHER)
        await other.join("room-1", issue("room-1", "resident", "r1"))
        # A socket of the first address that joins frees a place for a new one.
        await idle[0].join("room-1", issue("room-1", "staff", "s1"))
        again = await Client.open(server.url)
        await again.join("room-2", issue("room-2", "resident", "r2"))
        for client in (*idle, other, again):
            await client.close()
    assert refused_total("too-many-unjoined") == before + 1


async def test_a_burst_of_new_sockets_from_one_address_is_refused_with_1013() -> None:
    config = CoreConfig(connections_per_address_rate=0.01, connections_per_address_burst=3)
    async with make_server(config=config) as server:
        first = [await Client.open(server.url) for _ in range(3)]
        fourth = await Client.open(server.url)
        assert await fourth.close_reason() == (CloseCode.TRY_AGAIN_LATER, "connection-rate")
        other = await Client.open(server.url, **OTHER)
        await other.join("room-1", issue("room-1", "resident", "r1"))
        for client in (*first, other):
            await client.close()


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limits() -> None:
    proxy = TrustedProxies.parse(["127.0.0.1"])
    config = CoreConfig(unjoined_per_address=1)
    async with make_server(config=config, trusted_proxies=proxy) as server:

        def via_proxy(client: str) -> dict[str, object]:
            return {"additional_headers": {"X-Forwarded-For": client}}

        a = await Client.open(server.url, **via_proxy("203.0.113.7"))
        b = await Client.open(server.url, **via_proxy("198.51.100.20"))
        a_again = await Client.open(server.url, **via_proxy("203.0.113.7"))
        assert await a_again.close_reason() == (CloseCode.TRY_AGAIN_LATER, "too-many-unjoined")
        await b.join("room-1", issue("room-1", "resident", "r1"))
        # Not from the trusted proxy: the header is ignored, the socket counts
        # against its own address (127.0.0.2), whatever it claims.
        spoof = await Client.open(server.url, **OTHER, **via_proxy("192.0.2.99"))
        spoof_again = await Client.open(server.url, **OTHER, **via_proxy("192.0.2.100"))
        assert await spoof_again.close_reason() == (
            CloseCode.TRY_AGAIN_LATER,
            "too-many-unjoined",
        )
        for client in (a, b, spoof):
            await client.close()
