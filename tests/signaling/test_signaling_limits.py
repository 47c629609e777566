"""Per-address connection limits: the arithmetic, and the core refusing sockets."""

from __future__ import annotations

import pytest
from test_signaling_core import at, closes, join, make_core, sent

from signaling.actions import Close
from signaling.errors import CloseCode
from signaling.limits import AddressLimits, Refusal, TrustedProxies, address_key
from signaling.messages import Joined

A, B = "203.0.113.7", "198.51.100.20"


def refusals(actions: list[object]) -> list[tuple[int, str]]:
    return [(a.code, a.reason) for a in actions if isinstance(a, Close)]


def test_unjoined_connections_are_capped_per_address() -> None:
    limits = AddressLimits(max_unjoined=3, rate=1000.0, burst=1000.0)
    assert [limits.admit(A, 0.0) for _ in range(3)] == [None, None, None]
    assert limits.admit(A, 0.0) is Refusal.UNJOINED
    assert limits.admit(B, 0.0) is None  # another address is not affected
    limits.joined(A)
    assert limits.admit(A, 0.0) is None
    assert limits.unjoined == {A: 3, B: 1}


def test_new_connections_are_rate_limited_per_address_and_refill() -> None:
    limits = AddressLimits(max_unjoined=100, rate=2.0, burst=3.0)
    assert [limits.admit(A, 0.0) for _ in range(4)] == [None, None, None, Refusal.RATE]
    assert limits.admit(B, 0.0) is None
    assert limits.admit(A, 0.4) is Refusal.RATE
    assert limits.admit(A, 0.5) is None  # one token back after 1/rate seconds


def test_exempt_addresses_are_not_counted_and_full_buckets_are_forgotten() -> None:
    limits = AddressLimits(max_unjoined=1, rate=1.0, burst=2.0, exempt=frozenset({"127.0.0.1"}))
    assert limits.key("127.0.0.1") is None
    key = limits.key(A)
    assert key == A and limits.admit(key, 0.0) is None
    limits.joined(key)
    limits.prune(0.0)
    assert A in limits.buckets  # one token short of full
    limits.prune(2.0)
    assert limits.buckets == {} and limits.unjoined == {}


def test_ipv6_clients_count_per_64_network() -> None:
    assert (
        address_key("2001:db8:1:2::5")
        == address_key("2001:db8:1:2:ffff::9")
        == ("2001:db8:1:2::/64")
    )
    assert address_key("2001:db8:1:3::5") != address_key("2001:db8:1:2::5")
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key(A) == A


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    proxies = TrustedProxies.parse(["10.0.0.0/8"])
    # A client talking to us directly cannot choose its address.
    assert proxies.client(A, "192.0.2.1") == A
    # Through our proxy: the rightmost hop that is not one of our proxies,
    # never what the client wrote at the left.
    assert proxies.client("10.0.0.5", "192.0.2.1, " + A) == A
    assert proxies.client("10.0.0.5", A + ", 10.0.0.9") == A
    assert proxies.client("10.0.0.5", None) == "10.0.0.5"
    anyone = TrustedProxies.parse(["*"])
    assert anyone.client("172.18.0.3", "192.0.2.1, " + A) == A
    assert TrustedProxies.parse([]).client("10.0.0.5", A) == "10.0.0.5"


def test_the_core_refuses_unjoined_sockets_past_the_cap_with_1013() -> None:
    core = make_core(unjoined_per_address=2)
    assert core.connect(1, at(0), A) == [] and core.connect(2, at(0), A) == []
    out = core.connect(3, at(0), A)
    assert refusals(out) == [(CloseCode.TRY_AGAIN_LATER, Refusal.UNJOINED.value)]
    assert core.receive(3, join("res"), at(0)) == []  # a refused socket is ignored
    assert core.connect(4, at(0), B) == []  # another address still connects
    # Once one of them joins, the address may open another.
    (joined,) = sent(core.receive(1, join("res"), at(1)), 1)
    assert isinstance(joined, Joined)
    assert core.connect(5, at(1), A) == []
    # A socket that never joins is closed at the join timeout and frees its place.
    assert closes(core.tick(at(10)))[2] == CloseCode.JOIN_TIMEOUT
    core.disconnect(2, at(10))
    core.disconnect(3, at(10))
    assert core.connect(6, at(10), A) == []
    assert refusals(core.connect(7, at(10), A)) == [
        (CloseCode.TRY_AGAIN_LATER, Refusal.UNJOINED.value)
    ]


def test_the_core_refuses_a_burst_of_new_sockets_with_1013() -> None:
    core = make_core(connections_per_address_rate=1.0, connections_per_address_burst=3.0)
    assert all(core.connect(conn, at(0), A) == [] for conn in (1, 2, 3))
    # Joining does not give the connection back: the rate counts new sockets.
    assert isinstance(sent(core.receive(1, join("res"), at(0)), 1)[0], Joined)
    assert refusals(core.connect(4, at(0), A)) == [(CloseCode.TRY_AGAIN_LATER, "connection-rate")]
    assert core.connect(5, at(0), B) == []
    assert core.connect(6, at(1), A) == []  # refilled at one a second


@pytest.mark.parametrize("address", [None, "127.0.0.1"])
def test_sockets_without_an_address_or_from_exempt_ones_are_not_limited(
    address: str | None,
) -> None:
    core = make_core(unjoined_per_address=1, exempt_addresses=frozenset({"127.0.0.1"}))
    assert all(core.connect(conn, at(0), address) == [] for conn in range(1, 20))
