"""Fixtures for signaling tests: real servers on 127.0.0.1 port 0, real Redis.

Redis tests are marked ``redis``. Without a reachable Redis they are skipped
with the reason, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

REDIS_URL = os.environ.get("MADOGUCHI_TEST_REDIS", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"


def redis_unavailable(why: object) -> None:
    message = f"Redis at {REDIS_URL} is not reachable ({why})"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(message)


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """The Redis URL, after checking that Redis answers; cleans the test's keys."""
    client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as exc:
        await client.aclose()
        redis_unavailable(exc)
    try:
        yield REDIS_URL
    finally:
        await client.aclose()


@pytest.fixture
async def key_prefix(redis_url: str) -> AsyncIterator[str]:
    """A namespace of keys and channels for one test, deleted afterwards."""
    prefix = f"mdg-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = aioredis.Redis.from_url(redis_url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
