"""Limits: per connection (a message-rate token bucket, an error window) and per
client address (connections not joined yet, the rate of new connections), and
which address a connection counts against when it comes through a proxy.

Plain arithmetic over the ``now`` the caller passes (seconds, any monotonic
origin); no clock is read here, so the core stays sans-I/O and tests are exact.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(slots=True)
class TokenBucket:
    rate: float  # tokens added per second
    burst: float  # bucket size
    tokens: float = -1.0
    stamp: float = 0.0

    def take(self, now: float) -> bool:
        if self.tokens < 0:  # first use: start full
            self.tokens, self.stamp = self.burst, now
        elapsed = max(0.0, now - self.stamp)
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def full(self, now: float) -> bool:
        """Refilled to the brim: forgetting it changes nothing."""
        return self.tokens + max(0.0, now - self.stamp) * self.rate >= self.burst


@dataclass(slots=True)
class ErrorWindow:
    """Counts errors in a sliding window; ``add`` says when the limit is reached."""

    limit: int
    window: float
    # Made at the first error: an empty deque is 760 bytes, on every socket,
    # and most sockets never send a faulty message.
    times: deque[float] | None = None

    def add(self, now: float) -> bool:
        if self.times is None:
            self.times = deque()
        times = self.times
        times.append(now)
        while times and times[0] <= now - self.window:
            times.popleft()
        return len(times) >= self.limit


class Refusal(StrEnum):
    """Why a new connection was refused (the close reason; 1013, try again later)."""

    RATE = "connection-rate"  # too many new connections from this address
    UNJOINED = "too-many-unjoined"  # too many of its connections have not joined yet


@dataclass(slots=True)
class AddressLimits:
    """Per client address: at most ``max_unjoined`` connections waiting for their
    ``join`` at once, and new connections at ``rate`` per second (``burst`` at once).

    Only connections that have not joined are capped: once joined, a connection
    holds a seat a signed token granted, and the seats of a room are limited
    already. Exempt addresses are never counted. Counts are kept per ``key``.
    """

    max_unjoined: int
    rate: float
    burst: float
    exempt: frozenset[str] = frozenset()
    unjoined: dict[str, int] = field(default_factory=dict)
    buckets: dict[str, TokenBucket] = field(default_factory=dict)
    _pruned: float | None = None

    def key(self, address: str) -> str | None:
        """What ``address`` is counted under (``address_key``); None if exempt."""
        if address in self.exempt:
            return None
        key = address_key(address)
        return None if key in self.exempt else key

    def admit(self, key: str, now: float) -> Refusal | None:
        """Count a new connection under ``key``, or say why it is refused."""
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = TokenBucket(rate=self.rate, burst=self.burst)
        if not bucket.take(now):
            return Refusal.RATE
        waiting = self.unjoined.get(key, 0)
        if waiting >= self.max_unjoined:
            return Refusal.UNJOINED
        self.unjoined[key] = waiting + 1
        return None

    def joined(self, key: str) -> None:
        """A counted connection joined or went away: it no longer waits."""
        waiting = self.unjoined.get(key, 0) - 1
        if waiting > 0:
            self.unjoined[key] = waiting
        else:
            self.unjoined.pop(key, None)

    def prune(self, now: float) -> None:
        """Forget buckets that have refilled (at most once per refill time), so a
        node seeing many addresses keeps only the recent ones."""
        every = self.burst / self.rate if self.rate > 0 else 60.0
        if self._pruned is not None and now - self._pruned < every:
            return
        self._pruned = now
        for address in [a for a, b in self.buckets.items() if b.full(now)]:
            del self.buckets[address]


def address_key(address: str) -> str:
    """What one client's limits are counted under: an IPv4 address, or the /64
    network of an IPv6 one (one household or phone gets a whole /64 and could
    otherwise use a new address per connection)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    """Proxies whose ``X-Forwarded-For`` names the client (``"*"``: any peer).

    Behind a reverse proxy every socket comes from the proxy; without trusting
    it all residents would share one address's limits.
    """

    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    everyone: bool = False

    @classmethod
    def parse(cls, entries: Iterable[str]) -> TrustedProxies:
        entries = [e.strip() for e in entries if e.strip()]
        return cls(
            networks=tuple(ipaddress.ip_network(e, strict=False) for e in entries if e != "*"),
            everyone="*" in entries,
        )

    def trusts(self, address: str) -> bool:
        if self.everyone:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def client(self, peer: str, forwarded_for: str | None) -> str:
        """The client address of a connection from ``peer``: the rightmost hop of
        ``X-Forwarded-For`` not itself a trusted proxy (the leftmost hops are
        whatever the client claimed, so they are never believed first)."""
        if not forwarded_for or not self.trusts(peer):
            return peer
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        if not hops:
            return peer
        if self.everyone:
            return hops[-1]  # the hop our own proxy added
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop
        return hops[0]
