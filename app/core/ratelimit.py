"""Fixed-window rate limits and lockouts, shared by every app process through Redis.

A :class:`Rule` allows ``limit`` events per ``window``. Counters live in
Redis when ``MADOGUCHI_REDIS_URL`` is set, so several app processes behind a
load balancer count together; otherwise in this process's memory. The window
is computed from the ``now`` the caller passes (the app's clock), so tests
move time instead of sleeping. Subjects (an IP address, an email, a login)
are hashed before they become keys: no personal data sits in Redis.

Two uses::

    retry = limiter.hit(BOOKING_PER_IP, ip, now)      # count an attempt
    if retry is not None: raise RateLimited(retry)    # over the limit

    retry = limiter.blocked(LOGIN_PER_ACCOUNT, login, now)  # locked out?
    limiter.hit(LOGIN_PER_ACCOUNT, login, now)               # only on a failure
    limiter.reset(LOGIN_PER_ACCOUNT, login, now)             # on success
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import redis


@dataclass(frozen=True)
class Rule:
    name: str
    limit: int
    window: timedelta

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window.total_seconds() < 1:
            raise ValueError(f"rule {self.name}: limit and window must be positive")


class RateLimited(Exception):
    """Over a limit; ``retry_after`` whole seconds until the window ends."""

    def __init__(self, rule: str, retry_after: int) -> None:
        super().__init__(f"{rule}: retry after {retry_after} s")
        self.rule = rule
        self.retry_after = retry_after


class Counters(Protocol):
    def incr(self, key: str, ttl_seconds: int) -> int: ...

    def get(self, key: str) -> int: ...

    def delete(self, key: str) -> None: ...


class MemoryCounters:
    """One process's counters (the embedded default: one process serves everything)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def incr(self, key: str, ttl_seconds: int) -> int:
        with self._lock:
            if len(self._counts) > 100_000:
                self._counts.clear()  # a flood of distinct subjects must not eat memory
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key]

    def get(self, key: str) -> int:
        with self._lock:
            return self._counts.get(key, 0)

    def delete(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)


class RedisCounters:
    def __init__(self, client: redis.Redis, prefix: str = "madoguchi:rl:") -> None:
        self._redis = client
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str = "madoguchi:rl:") -> RedisCounters:
        return cls(redis.Redis.from_url(url, socket_timeout=2), prefix)

    def incr(self, key: str, ttl_seconds: int) -> int:
        pipe = self._redis.pipeline()
        pipe.incr(self._prefix + key)
        # The key names its window, so the expiry only collects garbage.
        pipe.expire(self._prefix + key, ttl_seconds)
        count, _ = pipe.execute()
        return int(count)

    def get(self, key: str) -> int:
        value = self._redis.get(self._prefix + key)
        return int(value) if value is not None else 0

    def delete(self, key: str) -> None:
        self._redis.delete(self._prefix + key)


class RateLimiter:
    def __init__(self, counters: Counters) -> None:
        self.counters = counters

    @classmethod
    def from_url(cls, redis_url: str | None, scope: str = "") -> RateLimiter:
        """``scope`` separates deployments sharing one Redis (e.g. their database URL)."""
        if not redis_url:
            return cls(MemoryCounters())
        tag = hashlib.sha256(scope.encode()).hexdigest()[:12]
        return cls(RedisCounters.from_url(redis_url, prefix=f"madoguchi:rl:{tag}:"))

    @staticmethod
    def _window(rule: Rule, now: datetime) -> tuple[int, int]:
        seconds = int(rule.window.total_seconds())
        index = math.floor(now.timestamp()) // seconds
        retry_after = max(1, math.ceil((index + 1) * seconds - now.timestamp()))
        return index, retry_after

    @staticmethod
    def _key(rule: Rule, subject: str, index: int) -> str:
        digest = hashlib.sha256(subject.strip().lower().encode()).hexdigest()[:32]
        return f"{rule.name}:{index}:{digest}"

    def hit(self, rule: Rule, subject: str, now: datetime) -> int | None:
        """Count one event; the seconds to wait when this one is over the limit."""
        index, retry_after = self._window(rule, now)
        count = self.counters.incr(
            self._key(rule, subject, index), int(rule.window.total_seconds()) + 60
        )
        return retry_after if count > rule.limit else None

    def blocked(self, rule: Rule, subject: str, now: datetime) -> int | None:
        """The seconds to wait when ``limit`` events are already counted, else None."""
        index, retry_after = self._window(rule, now)
        count = self.counters.get(self._key(rule, subject, index))
        return retry_after if count >= rule.limit else None

    def reset(self, rule: Rule, subject: str, now: datetime) -> None:
        index, _ = self._window(rule, now)
        self.counters.delete(self._key(rule, subject, index))

    def check(self, rule: Rule, subject: str, now: datetime) -> None:
        """Count one event and raise :class:`RateLimited` when it is over the limit."""
        retry_after = self.hit(rule, subject, now)
        if retry_after is not None:
            raise RateLimited(rule.name, retry_after)
