"""The fixed-window limiter, in memory and on the real Redis server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis

from app.core.ratelimit import (
    Counters,
    MemoryCounters,
    RateLimited,
    RateLimiter,
    RedisCounters,
    Rule,
)

IN_CI = os.environ.get("CI", "").lower() == "true"
REDIS_URL = os.environ.get("MADOGUCHI_TEST_REDIS", "redis://127.0.0.1:6379/0")
T0 = datetime(2026, 11, 30, 0, 0, 0, tzinfo=UTC)  # on a 10-minute boundary
RULE = Rule("test", 3, timedelta(minutes=10))


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except (OSError, redis.RedisError) as exc:
        if IN_CI:
            pytest.fail(f"Redis at {REDIS_URL} is not reachable ({exc}); CI=true requires it")
        pytest.skip(f"Redis at {REDIS_URL} is not reachable ({exc})")
    yield client
    client.close()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def counters(request: pytest.FixtureRequest) -> Iterator[Counters]:
    if request.param == "memory":
        yield MemoryCounters()
        return
    client: redis.Redis = request.getfixturevalue("redis_client")
    prefix = f"mdg-test-{uuid.uuid4().hex}:"
    yield RedisCounters(client, prefix)
    for key in client.scan_iter(prefix + "*"):
        client.delete(key)


def test_allows_the_limit_then_refuses_until_the_window_ends(counters: Counters) -> None:
    limiter = RateLimiter(counters)
    now = T0 + timedelta(minutes=4)
    assert [limiter.hit(RULE, "203.0.113.5", now) for _ in range(3)] == [None, None, None]
    # Six minutes remain in the window that started at T0.
    assert limiter.hit(RULE, "203.0.113.5", now) == 6 * 60
    with pytest.raises(RateLimited) as refused:
        limiter.check(RULE, "203.0.113.5", now + timedelta(seconds=30))
    assert refused.value.retry_after == 5 * 60 + 30
    # Another subject has its own count; the next window starts afresh.
    assert limiter.hit(RULE, "203.0.113.6", now) is None
    assert limiter.hit(RULE, "203.0.113.5", T0 + timedelta(minutes=10)) is None


def test_blocked_and_reset_make_a_lockout(counters: Counters) -> None:
    limiter = RateLimiter(counters)
    for _ in range(2):
        limiter.hit(RULE, "staff0", T0)
    assert limiter.blocked(RULE, "staff0", T0) is None
    limiter.hit(RULE, "staff0", T0)
    assert limiter.blocked(RULE, "staff0", T0 + timedelta(minutes=9)) == 60
    assert limiter.blocked(RULE, "staff0", T0 + timedelta(minutes=10)) is None
    limiter.reset(RULE, "staff0", T0)
    assert limiter.blocked(RULE, "staff0", T0) is None


def test_subjects_are_case_insensitive(counters: Counters) -> None:
    limiter = RateLimiter(counters)
    for subject in ("Hanako@Example.jp", "hanako@example.jp ", "HANAKO@EXAMPLE.JP"):
        limiter.hit(RULE, subject, T0)
    assert limiter.hit(RULE, "hanako@example.jp", T0) is not None


@pytest.mark.redis
def test_two_limiters_on_one_redis_count_together(redis_client: redis.Redis) -> None:
    prefix = f"mdg-test-{uuid.uuid4().hex}:"
    try:
        a = RateLimiter(RedisCounters(redis_client, prefix))
        b = RateLimiter(RedisCounters(redis_client, prefix))
        assert a.hit(RULE, "hanako@example.jp", T0) is None
        assert b.hit(RULE, "hanako@example.jp", T0) is None
        assert a.hit(RULE, "hanako@example.jp", T0) is None
        assert b.hit(RULE, "hanako@example.jp", T0) is not None
        keys = [k.decode() for k in redis_client.scan_iter(prefix + "*")]
        assert len(keys) == 1
        # Keys hold a hash of the subject, never the address itself, and expire.
        assert "hanako" not in keys[0] and "example" not in keys[0]
        assert 0 < redis_client.ttl(keys[0]) <= 11 * 60
    finally:
        for key in redis_client.scan_iter(prefix + "*"):
            redis_client.delete(key)


def test_from_url_picks_the_store() -> None:
    assert isinstance(RateLimiter.from_url(None).counters, MemoryCounters)
    assert isinstance(RateLimiter.from_url(REDIS_URL).counters, RedisCounters)


def test_rules_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Rule("bad", 0, timedelta(minutes=1))


@pytest.mark.redis
def test_deployments_sharing_a_redis_are_kept_apart(redis_client: redis.Redis) -> None:
    scope = f"postgresql://db/{uuid.uuid4().hex}"
    a = RateLimiter.from_url(REDIS_URL, scope)
    b = RateLimiter.from_url(REDIS_URL, scope)
    other = RateLimiter.from_url(REDIS_URL, scope + "-other")
    rule = Rule(f"scoped-{uuid.uuid4().hex[:8]}", 1, timedelta(minutes=10))
    assert a.hit(rule, "203.0.113.9", T0) is None
    assert b.hit(rule, "203.0.113.9", T0) is not None  # same deployment: shared
    assert other.hit(rule, "203.0.113.9", T0) is None  # another database: apart
    for limiter in (a, other):
        counters = limiter.counters
        assert isinstance(counters, RedisCounters)
        for key in redis_client.scan_iter(counters._prefix + "*"):
            redis_client.delete(key)
