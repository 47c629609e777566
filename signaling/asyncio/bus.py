"""Cross-node plumbing on asyncio: the ``Bus`` and ``RoomStore`` ports, their
in-memory implementations, and ``Cluster``, which joins them for the server.

The server hands every ``Publish(event)`` action of the core to
``Cluster.publish``, which writes the shared store (so a node that starts later
can load a snapshot) and publishes the event (see ``signaling.bus`` for the
events and channels). A per-node channel, subscribed once at start-up, has no
subscribe-after-join race.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeAlias

from signaling.bus import (
    ENDED_MEMORY_SECONDS,
    BusEvent,
    DeliverEvent,
    EndedEvent,
    HeartbeatEvent,
    ReleaseEvent,
    SeatChange,
    SeatEvent,
    SeatRecord,
    decode_event,
    encode_event,
)
from signaling.errors import BusError

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------- ports

Handler: TypeAlias = Callable[[str], Awaitable[None]]


class Bus(Protocol):
    """Publish/subscribe of text on named channels (at-most-once, like Redis)."""

    async def publish(self, channel: str, data: str) -> None: ...

    async def subscribe(self, channel: str, handler: Handler) -> None:
        """Call ``handler`` for every message on ``channel`` from now on."""

    def on_reconnect(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run ``callback`` after the bus lost and regained its connection."""

    async def close(self) -> None: ...


class RoomStore(Protocol):
    """Shared current state: seats per room, ended rooms, node liveness."""

    async def put_seat(self, seat: SeatRecord) -> None: ...

    async def drop_seat(self, room: str, pid: str, epoch: int) -> None: ...

    async def add_ended(self, room: str) -> None: ...

    async def snapshot(self) -> tuple[list[SeatRecord], set[str]]: ...

    async def heartbeat(self, node: str, ttl: float) -> None: ...


class MemoryBus:
    """In-process bus: the embedded default, and several cores in one test process."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}

    async def publish(self, channel: str, data: str) -> None:
        for handler in list(self._handlers.get(channel, ())):
            try:
                await handler(data)
            except Exception:
                # One failing subscriber must not stop delivery to the others.
                log.exception("bus handler failed on channel %s", channel)

    async def subscribe(self, channel: str, handler: Handler) -> None:
        self._handlers.setdefault(channel, []).append(handler)

    def unsubscribe_all(self, handler: Handler) -> None:
        for handlers in self._handlers.values():
            while handler in handlers:
                handlers.remove(handler)

    def on_reconnect(self, callback: Callable[[], Awaitable[None]]) -> None:
        return None  # never disconnects

    async def close(self) -> None:
        self._handlers.clear()


class MemoryRoomStore:
    def __init__(
        self,
        *,
        ended_memory: float = ENDED_MEMORY_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.seats: dict[tuple[str, str], SeatRecord] = {}
        self.ended: dict[str, float] = {}  # room -> when it ended
        self._ended_memory = ended_memory
        self._clock = clock

    async def put_seat(self, seat: SeatRecord) -> None:
        current = self.seats.get((seat.room, seat.pid))
        if current is None or current.epoch <= seat.epoch:
            self.seats[(seat.room, seat.pid)] = seat

    async def drop_seat(self, room: str, pid: str, epoch: int) -> None:
        current = self.seats.get((room, pid))
        if current is not None and current.epoch <= epoch:
            del self.seats[(room, pid)]

    async def add_ended(self, room: str) -> None:
        now = self._clock()
        self.ended[room] = now
        for old in [r for r, at in self.ended.items() if at < now - self._ended_memory]:
            del self.ended[old]
        for key in [k for k in self.seats if k[0] == room]:
            del self.seats[key]

    async def snapshot(self) -> tuple[list[SeatRecord], set[str]]:
        cutoff = self._clock() - self._ended_memory
        return list(self.seats.values()), {r for r, at in self.ended.items() if at >= cutoff}

    async def heartbeat(self, node: str, ttl: float) -> None:
        return None


# ----------------------------------------------------------------------- cluster

EventHandler: TypeAlias = Callable[[BusEvent], Awaitable[None]]


class Cluster:
    """Maps bus events to channels and store writes, for one node."""

    def __init__(
        self,
        bus: Bus,
        store: RoomStore,
        *,
        node: str,
        prefix: str = "madoguchi:",
        alive_ttl: float = 15.0,
    ):
        self.bus = bus
        self.store = store
        self.node = node
        self.prefix = prefix
        self.alive_ttl = alive_ttl

    @property
    def cluster_channel(self) -> str:
        return f"{self.prefix}cluster"

    def node_channel(self, node: str) -> str:
        return f"{self.prefix}node:{node}"

    async def start(self, handler: EventHandler) -> None:
        async def on_message(data: str) -> None:
            try:
                event = decode_event(data)
            except BusError:
                log.warning("dropping undecodable bus message on node %s", self.node)
                return
            if event.node != self.node:
                await handler(event)

        await self.bus.subscribe(self.cluster_channel, on_message)
        await self.bus.subscribe(self.node_channel(self.node), on_message)

    async def publish(self, event: BusEvent) -> None:
        match event:
            case SeatEvent(seat=seat):
                await self.store.put_seat(seat)
            case ReleaseEvent():
                await self.store.drop_seat(event.room, event.pid, event.epoch)
            case HeartbeatEvent():
                await self.store.heartbeat(self.node, self.alive_ttl)
            case DeliverEvent():
                pass
            case EndedEvent():
                await self.store.add_ended(event.room)
        channel = (
            self.node_channel(event.target)
            if isinstance(event, DeliverEvent)
            else self.cluster_channel
        )
        await self.bus.publish(channel, encode_event(event))

    async def snapshot(self) -> list[BusEvent]:
        seats, ended = await self.store.snapshot()
        events: list[BusEvent] = [
            SeatEvent(seat=s, change=SeatChange.SYNC) for s in seats if s.node != self.node
        ]
        events += [EndedEvent(room=r, by=None, node="") for r in sorted(ended)]
        return events
