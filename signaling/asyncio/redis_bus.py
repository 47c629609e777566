"""Redis implementations of the ``Bus`` and ``RoomStore`` ports (several nodes).

``RedisBus`` keeps one pub/sub connection with its own reader task. When
Redis goes away (restart, network), the reader reconnects with exponential
back-off (0.1 s doubling to 5 s), subscribes again to every channel and then
runs the ``on_reconnect`` callbacks, with which each node republishes its seats
and reloads the shared view. Messages published while Redis was down are lost
(pub/sub is at-most-once); the docs explain why that is acceptable here.

``RedisRoomStore`` keeps, under a key prefix:

- ``<p>room:<id>``: hash participant id -> seat JSON (node, role, session,
  status, epoch, ...), with a TTL refreshed on every write as a safety net;
- ``<p>rooms``: set of room ids with seats;
- ``<p>ended-at``: sorted set of ended rooms scored by when they ended; rooms
  older than ``ended_memory`` are dropped on every write and never read
  (``<p>ended``, the unbounded set of earlier versions, is no longer used);
- ``<p>alive:<node>``: a key each node refreshes with its heartbeat (TTL). A
  snapshot leaves out seats whose node's key has expired: a dead node's seats
  expire with it, and its clients join another node afresh.

Seat writes are compare-by-epoch Lua scripts, so a stale write from a slow
node never overwrites a newer takeover.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from signaling.asyncio.bus import Handler
from signaling.bus import (
    ENDED_MEMORY_SECONDS,
    SeatChange,
    SeatEvent,
    SeatRecord,
    decode_event,
    encode_event,
)
from signaling.errors import BusError

log = logging.getLogger(__name__)

ROOM_TTL_SECONDS = 24 * 3600

_PUT_SEAT = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  if cjson.decode(cur)['epoch'] > tonumber(ARGV[3]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('SADD', KEYS[2], ARGV[5])
return 1
"""

_DROP_SEAT = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and cjson.decode(cur)['epoch'] <= tonumber(ARGV[2]) then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0
"""


def _client(url: str, *, retries: int, name: str | None = None) -> aioredis.Redis:
    client: aioredis.Redis = aioredis.Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=2,
        retry=Retry(NoBackoff(), retries),
        client_name=name,
    )
    return client


class RedisBus:
    def __init__(
        self,
        url: str,
        *,
        backoff_min: float = 0.1,
        backoff_max: float = 5.0,
        name: str = "madoguchi-signaling",
    ) -> None:
        self._url = url
        self.name = name  # CLIENT SETNAME of the subscriber connection
        # Commands may retry once (a dropped idle connection); the subscriber
        # never retries on its own, so that *we* see the outage and resync.
        self._redis = _client(url, retries=1)
        self._backoff_min, self._backoff_max = backoff_min, backoff_max
        self._handlers: dict[str, list[Handler]] = {}
        self._callbacks: list[Callable[[], Awaitable[None]]] = []
        self._reader: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._pubsub: Any = None
        self.reconnects = 0

    @property
    def redis(self) -> aioredis.Redis:
        return self._redis

    async def publish(self, channel: str, data: str) -> None:
        try:
            await self._redis.publish(channel, data)
        except (RedisError, OSError) as exc:
            raise BusError(f"redis publish failed: {exc}") from exc

    async def subscribe(self, channel: str, handler: Handler) -> None:
        first = channel not in self._handlers
        self._handlers.setdefault(channel, []).append(handler)
        if self._reader is None:
            self._reader = asyncio.create_task(self._read_loop(), name="redis-bus-reader")
        await self._subscribed.wait()
        if first and self._pubsub is not None:
            # On failure the reader resubscribes every channel when it reconnects.
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.subscribe(channel)

    def on_reconnect(self, callback: Callable[[], Awaitable[None]]) -> None:
        self._callbacks.append(callback)

    async def wait_connected(self) -> None:
        await self._subscribed.wait()

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        await self._redis.aclose()

    async def _read_loop(self) -> None:
        delay = self._backoff_min
        reconnecting = False
        while True:
            client = _client(self._url, retries=0, name=self.name)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                channels = list(self._handlers)
                await pubsub.subscribe(*channels)
                self._pubsub = pubsub
                self._subscribed.set()
                delay = self._backoff_min
                if reconnecting:
                    self.reconnects += 1
                    log.warning("redis bus reconnected; resubscribed %d channels", len(channels))
                    for callback in self._callbacks:
                        await callback()
                reconnecting = False
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None or message.get("type") != "message":
                        continue
                    for handler in list(self._handlers.get(message["channel"], ())):
                        try:
                            await handler(message["data"])
                        except Exception:
                            log.exception("bus handler failed on %s", message["channel"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self._pubsub = None
                if not reconnecting:
                    log.warning("redis bus connection lost (%s); reconnecting", exc)
                reconnecting = True
                await asyncio.sleep(delay)
                delay = min(self._backoff_max, delay * 2)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                with contextlib.suppress(RedisError, OSError):
                    await client.aclose()


class RedisRoomStore:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        prefix: str = "madoguchi:",
        ended_memory: float = ENDED_MEMORY_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ended_key = f"{prefix}ended-at"
        self._ended_memory = ended_memory
        self._clock = clock
        self._put = redis.register_script(_PUT_SEAT)
        self._drop = redis.register_script(_DROP_SEAT)

    def _room_key(self, room: str) -> str:
        return f"{self._prefix}room:{room}"

    async def put_seat(self, seat: SeatRecord) -> None:
        data = encode_event(SeatEvent(seat=seat, change=SeatChange.SYNC))
        keys = [self._room_key(seat.room), f"{self._prefix}rooms"]
        await self._call(self._put(keys, [seat.pid, data, seat.epoch, ROOM_TTL_SECONDS, seat.room]))

    async def drop_seat(self, room: str, pid: str, epoch: int) -> None:
        await self._call(self._drop([self._room_key(room)], [pid, epoch]))

    async def add_ended(self, room: str) -> None:
        now = self._clock()
        pipe = self._redis.pipeline(transaction=True)
        pipe.zadd(self._ended_key, {room: now})
        pipe.zremrangebyscore(self._ended_key, "-inf", f"({now - self._ended_memory}")
        pipe.delete(self._room_key(room))
        pipe.srem(f"{self._prefix}rooms", room)
        await self._call(pipe.execute())

    async def heartbeat(self, node: str, ttl: float) -> None:
        await self._call(self._redis.set(f"{self._prefix}alive:{node}", "1", px=int(ttl * 1000)))

    async def snapshot(self) -> tuple[list[SeatRecord], set[str]]:
        try:
            rooms = sorted(str(r) for r in await self._redis.smembers(f"{self._prefix}rooms"))
            since = self._clock() - self._ended_memory
            ended = {
                str(r) for r in await self._redis.zrangebyscore(self._ended_key, since, "+inf")
            }
            pipe = self._redis.pipeline(transaction=False)
            for room in rooms:
                pipe.hgetall(self._room_key(room))
            hashes: list[dict[str, str]] = await pipe.execute() if rooms else []
            seats: list[SeatRecord] = []
            for room, fields in zip(rooms, hashes, strict=True):
                if not fields:
                    await self._redis.srem(f"{self._prefix}rooms", room)
                for raw in fields.values():
                    event = decode_event(raw)
                    if isinstance(event, SeatEvent):
                        seats.append(event.seat)
            nodes = sorted({s.node for s in seats})
            alive = (
                await self._redis.mget([f"{self._prefix}alive:{n}" for n in nodes]) if nodes else []
            )
        except (RedisError, OSError) as exc:
            raise BusError(f"redis snapshot failed: {exc}") from exc
        live = {n for n, flag in zip(nodes, alive, strict=True) if flag}
        return [s for s in seats if s.node in live], ended

    @staticmethod
    async def _call(awaitable: Awaitable[Any]) -> Any:
        try:
            return await awaitable
        except (RedisError, OSError) as exc:
            raise BusError(f"redis store failed: {exc}") from exc
