"""What travels between signaling nodes: bus events and their wire format.

Each node's sans-I/O core keeps a replicated view of every room. Whatever
changes that view is emitted by the core as a ``Publish(event)`` action, one of
the events below; the asyncio side (``signaling.asyncio.bus.Cluster``) writes
the shared store and publishes it:

- on the cluster channel (``<prefix>cluster``) for room facts every node needs:
  seats (with their connected flags), releases, ended rooms, heartbeats;
- on the target node's own channel (``<prefix>node:<id>``) for a ``Deliver``:
  a relayed frame for a participant whose socket is on that node.

Events carry their origin node; a node ignores its own (Redis echoes them).
Times are POSIX seconds (floats) so they travel as plain JSON numbers. Pure
data and (de)serialization: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeAlias

import orjson

from signaling.errors import BusError
from signaling.messages import LeaveReason, PeerStatus, Role


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
    language: str = ""  # an interpreter's language (Admission.language)


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
                "language": s.language,
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
                language=str(d.get("language", "")),
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


# Ended rooms are remembered this long by default (CoreConfig.ended_memory).
ENDED_MEMORY_SECONDS = 2 * 24 * 3600.0
