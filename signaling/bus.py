"""Cross-node plumbing: bus events, the ``Bus`` and ``RoomStore`` ports, in-memory
implementations, and ``Cluster`` which joins them for the server.

Each node's sans-I/O core keeps a replicated view of every room. Whatever
changes that view is emitted by the core as a ``Publish(event)`` action; the
server hands it to ``Cluster.publish``, which writes the shared store (so a
node that starts later can load a snapshot) and publishes the event:

- on the cluster channel (``<prefix>cluster``) for room facts every node needs:
  seats (with their connected flags), releases, ended rooms, heartbeats;
- on the target node's own channel (``<prefix>node:<id>``) for a ``Deliver``:
  a relayed frame for a participant whose socket is on that node. A per-node
  channel, subscribed once at start-up, has no subscribe-after-join race.

Events carry their origin node; a node ignores its own (Redis echoes them).
Times are POSIX seconds (floats) so they travel as plain JSON numbers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeAlias

import orjson

from signaling.errors import BusError
from signaling.messages import LeaveReason, PeerStatus, Role

log = logging.getLogger(__name__)


class SeatChange(StrEnum):
    JOINED = "joined"
    RESUMED = "resumed"
    RECONNECTING = "reconnecting"
    REPLACED = "replaced"  # same participant, fresh join from a new socket
    CONNECTED = "connected"  # the participant reported `connected` (call start)
    SYNC = "sync"  # republished after a bus outage or loaded from a snapshot


@dataclass(frozen=True, slots=True)
class SeatRecord:
    room: str
    pid: str
    role: Role
    name: str
    node: str  # node holding the socket
    session: str
    status: PeerStatus
    since: float  # when the participant first took the seat
    epoch: int  # +1 on every takeover (resume/replace); newer wins
    grace_until: float | None = None
    connected: bool = False  # reported `connected` (for call start)
    handover: bool = False  # a staff seat taken with a hand-over ticket (an extra seat)


@dataclass(frozen=True, slots=True)
class SeatEvent:
    seat: SeatRecord
    change: SeatChange

    @property
    def node(self) -> str:
        return self.seat.node


@dataclass(frozen=True, slots=True)
class ReleaseEvent:
    room: str
    pid: str
    epoch: int
    reason: LeaveReason
    node: str


@dataclass(frozen=True, slots=True)
class EndedEvent:
    room: str
    by: str | None
    node: str


@dataclass(frozen=True, slots=True)
class DeliverEvent:
    """A ready-serialized server frame for participant ``to`` on ``target``."""

    room: str
    to: str
    target: str
    text: str
    node: str


@dataclass(frozen=True, slots=True)
class HeartbeatEvent:
    node: str


BusEvent: TypeAlias = SeatEvent | ReleaseEvent | EndedEvent | DeliverEvent | HeartbeatEvent


def encode_event(event: BusEvent) -> str:
    data: dict[str, Any]
    match event:
        case SeatEvent(seat=s, change=change):
            data = {
                "k": "seat",
                "change": change.value,
                "room": s.room,
                "pid": s.pid,
                "role": s.role.value,
                "name": s.name,
                "node": s.node,
                "session": s.session,
                "status": s.status.value,
                "since": s.since,
                "epoch": s.epoch,
                "grace_until": s.grace_until,
                "connected": s.connected,
                "handover": s.handover,
            }
        case ReleaseEvent():
            data = {"k": "release", "room": event.room, "pid": event.pid, "epoch": event.epoch}
            data |= {"reason": event.reason.value, "node": event.node}
        case EndedEvent():
            data = {"k": "ended", "room": event.room, "by": event.by, "node": event.node}
        case DeliverEvent():
            data = {"k": "deliver", "room": event.room, "to": event.to, "target": event.target}
            data |= {"text": event.text, "node": event.node}
        case HeartbeatEvent():
            data = {"k": "heartbeat", "node": event.node}
    return orjson.dumps(data).decode()


def decode_event(text: str | bytes) -> BusEvent:
    """Inverse of ``encode_event``; raises BusError on anything else."""
    try:
        d = orjson.loads(text)
        kind = d["k"]
        if kind == "seat":
            seat = SeatRecord(
                room=str(d["room"]),
                pid=str(d["pid"]),
                role=Role(d["role"]),
                name=str(d["name"]),
                node=str(d["node"]),
                session=str(d["session"]),
                status=PeerStatus(d["status"]),
                since=float(d["since"]),
                epoch=int(d["epoch"]),
                grace_until=None if d["grace_until"] is None else float(d["grace_until"]),
                connected=bool(d["connected"]),
                handover=bool(d.get("handover", False)),
            )
            return SeatEvent(seat=seat, change=SeatChange(d["change"]))
        if kind == "release":
            reason = LeaveReason(d["reason"])
            return ReleaseEvent(d["room"], d["pid"], int(d["epoch"]), reason, d["node"])
        if kind == "ended":
            return EndedEvent(d["room"], d["by"], d["node"])
        if kind == "deliver":
            return DeliverEvent(d["room"], d["to"], d["target"], d["text"], d["node"])
        if kind == "heartbeat":
            return HeartbeatEvent(d["node"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BusError(f"undecodable bus event: {exc}") from exc
    raise BusError(f"unknown bus event kind {kind!r}")


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


# Ended rooms are remembered this long by default (CoreConfig.ended_memory).
ENDED_MEMORY_SECONDS = 2 * 24 * 3600.0


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
