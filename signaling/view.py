"""The replicated room view behind ``SignalingCore`` (sans-I/O, no clock).

Seat changes, releases and ends are applied here whether they happened on this
node or arrive from another one over the bus; each returns the actions that
tell this node's local participants (``peer-joined``, ``peer-left``, ...).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from signaling.actions import Action, Close, CoreConfig, Publish, Record, Send
from signaling.bus import (
    ReleaseEvent,
    SeatChange,
    SeatEvent,
    SeatRecord,
)
from signaling.errors import (
    FATAL_CLOSE_CODES,
    CloseCode,
    ErrorCode,
)
from signaling.events import CallEvent, EventKind
from signaling.limits import AddressLimits, ErrorWindow, TokenBucket
from signaling.messages import (
    Ended,
    Error,
    Joined,
    LeaveReason,
    PeerJoined,
    PeerLeft,
    PeerReconnecting,
    PeerResumed,
    PeerStatus,
    RestartIce,
    Role,
    RoomState,
    RoomStateChanged,
    Waiting,
    WaitingRoom,
)
from signaling.room import (
    WAITING_ROLES,
    ConnId,
    Room,
    peer_info,
    seat_order,
    you,
)

log = logging.getLogger(__name__)

LOBBY_ROOM = "@lobby"
# Sweep ended rooms this often; _LOADED marks rooms loaded at start-up.
ENDED_SWEEP_SECONDS = 60.0
_LOADED = -1.0


@dataclass(slots=True)
class ConnState:
    id: ConnId
    opened: float
    bucket: TokenBucket
    errors: ErrorWindow
    room: str | None = None
    pid: str | None = None
    lobby: bool = False
    closing: bool = False
    address: str | None = None  # counted against this address until it joins


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _neg(node: str) -> tuple[int, ...]:
    """Sort key under which the smaller node id compares greater."""
    return (*(-ord(c) for c in node), 1)


class RoomView:
    """This node's replicated view of every room, and the changes to it.

    Local changes (a join here) and remote ones (a bus event) go through the
    same methods, so every node derives the same view from the same events.
    """

    def __init__(self, *, node: str, config: CoreConfig, ended_rooms: Iterable[str]) -> None:
        self.node = node
        self.config = config
        self._conns: dict[ConnId, ConnState] = {}
        self._pending: dict[ConnId, float] = {}  # not yet joined: opened at
        self._addresses = AddressLimits(
            max_unjoined=config.unjoined_per_address,
            rate=config.connections_per_address_rate,
            burst=config.connections_per_address_burst,
            exempt=config.exempt_addresses,
        )
        self._rooms: dict[str, Room] = {}
        # Ended room -> when it ended (seconds); rooms loaded at start-up are
        # stamped by the first sweep (_forget_ended).
        self._ended: dict[str, float] = dict.fromkeys(ended_rooms, _LOADED)
        self._last_sweep: float | None = None
        self._lobby: set[ConnId] = set()
        self._last_waiting: tuple[WaitingRoom, ...] | None = None
        self._node_seen: dict[str, float] = {}
        # What the once-a-second sweep looks at, instead of every room (which
        # made each tick cost more the more connections a node held): rooms
        # with a seat in its grace period, and rooms with a seat held by another
        # node, scanned only while one of those nodes is silent. Insertion-
        # ordered dicts, so the sweep is deterministic.
        self._in_grace: dict[str, None] = {}
        self._remote_rooms: dict[str, None] = {}
        self._seat_nodes: set[str] = set()  # other nodes holding seats we know of

    def _unpend(self, conn: ConnState) -> None:
        """``conn`` joined, failed or went away: it no longer waits for its join."""
        self._pending.pop(conn.id, None)
        if conn.address is not None:
            self._addresses.joined(conn.address)
            conn.address = None

    def room(self, room_id: str) -> Room | None:
        return self._rooms.get(room_id)

    def is_ended(self, room_id: str) -> bool:
        return room_id in self._ended

    def _forget_ended(self, t: float) -> None:
        """About once a minute: forget rooms ended longer than ``ended_memory`` ago."""
        if self._last_sweep is not None and t - self._last_sweep < ENDED_SWEEP_SECONDS:
            return
        self._last_sweep = t
        cutoff = t - self.config.ended_memory
        for room, at in list(self._ended.items()):
            if at == _LOADED:
                self._ended[room] = t
            elif at < cutoff:
                del self._ended[room]

    @property
    def connection_count(self) -> int:
        return len(self._conns)

    def waiting(self) -> tuple[WaitingRoom, ...]:
        """Rooms with someone waiting and no staff, oldest first."""
        rooms = []
        for room in self._rooms.values():
            if room.state is not RoomState.WAITING:
                continue
            seats = sorted(
                (s for s in room.seats.values() if s.role in WAITING_ROLES),
                key=lambda s: s.since,
            )
            if seats:
                rooms.append((seats[0].since, room.id, tuple(you(s) for s in seats)))
        rooms.sort()
        return tuple(WaitingRoom(room=r, since=_iso(t), participants=p) for t, r, p in rooms)

    def local_seats(self) -> list[SeatEvent]:
        """This node's seats, to republish after the bus lost its state."""
        return [
            SeatEvent(seat=s, change=SeatChange.SYNC)
            for room in self._rooms.values()
            for s in room.seats.values()
            if s.node == self.node
        ]

    def _node_alive(self, node: str, t: float) -> bool:
        if node == self.node:
            return True
        seen = self._node_seen.get(node)
        return seen is not None and t - seen < self.config.node_timeout

    def _sweep(self, now: datetime) -> list[Action]:
        """Grace periods that ran out and seats of nodes that went silent."""
        t = now.timestamp()
        due = dict(self._in_grace)
        silent = any(not self._node_alive(node, t) for node in self._seat_nodes)
        if silent:
            due |= self._remote_rooms
        out: list[Action] = []
        for room_id in due:
            room = self._rooms.get(room_id)
            if room is not None:
                out += self._expire_room(room, now)
        for room_id in due:
            room = self._rooms.get(room_id)
            seats = room.seats.values() if room is not None else ()
            if not any(s.status is PeerStatus.RECONNECTING for s in seats):
                self._in_grace.pop(room_id, None)
            if silent and not any(s.node != self.node for s in seats):
                self._remote_rooms.pop(room_id, None)
        if silent:
            self._seat_nodes = {
                s.node
                for room_id in self._remote_rooms
                if (room := self._rooms.get(room_id)) is not None
                for s in room.seats.values()
                if s.node != self.node
            }
        return out

    def _expire_room(self, room: Room, now: datetime) -> list[Action]:
        t = now.timestamp()
        out: list[Action] = []
        for seat in list(room.seats.values()):
            alive = self._node_alive(seat.node, t)
            if not alive and seat.status is PeerStatus.PRESENT:
                # Its node died: hold the seat as if the socket had dropped here.
                log.warning("room %s: node %s silent; holding its seat", room.id, seat.node)
                held = replace(
                    seat,
                    status=PeerStatus.RECONNECTING,
                    grace_until=t + self.config.grace_seconds,
                    connected=False,
                )
                out += self._apply_seat(SeatEvent(seat=held, change=SeatChange.RECONNECTING), now)
            elif (
                seat.status is PeerStatus.RECONNECTING
                and seat.grace_until is not None
                and seat.grace_until <= t
                and (seat.node == self.node or not alive)
            ):
                # The holder releases its own seats; an orphan's release is
                # recorded and published by one live node only (the smallest id).
                recorder = seat.node == self.node or self._orphan_recorder(room, t)
                release = ReleaseEvent(
                    room.id, seat.pid, seat.epoch, LeaveReason.TIMEOUT, self.node
                )
                if recorder:
                    detail = {"reason": LeaveReason.TIMEOUT.value}
                    out.append(Record(self._event(room.id, EventKind.LEAVE, now, seat, detail)))
                out += self._release(room, seat.pid, LeaveReason.TIMEOUT, now)
                if recorder:
                    out.append(Publish(release))
        return out

    def _orphan_recorder(self, room: Room, t: float) -> bool:
        live = {s.node for s in room.seats.values() if self._node_alive(s.node, t)}
        live.add(self.node)
        return min(live) == self.node

    def _apply_seat(
        self, event: SeatEvent, now: datetime, joining: ConnId | None = None
    ) -> list[Action]:
        rec, change = event.seat, event.change
        if rec.room in self._ended:
            return []
        room = self._rooms.get(rec.room)
        if room is None:
            room = self._rooms[rec.room] = Room(id=rec.room)
        existing = room.seats.get(rec.pid)
        # A different version of this seat: the higher epoch wins, then the
        # smaller node id, identically on every node.
        if (
            existing is not None
            and (existing.epoch, rec.node) != (rec.epoch, existing.node)
            and (existing.epoch, _neg(existing.node)) > (rec.epoch, _neg(rec.node))
        ):
            return []
        out: list[Action] = []
        old_conn = room.local.get(rec.pid)
        if (
            old_conn is not None
            and old_conn != joining
            and (rec.node != self.node or joining is not None)
        ):
            del room.local[rec.pid]
            if (old := self._conns.get(old_conn)) is not None:
                out += self._fatal(old, ErrorCode.REPLACED, None)
        if existing is None:
            group = self.config.group_of(rec.role, handover=rec.handover)
            contenders = sorted(
                [*room.group_members(group, self.config.seat_groups), rec], key=seat_order
            )
            losers = contenders[self.config.seats.get(group, 0) :]
            if rec in losers:
                if not room.seats:
                    del self._rooms[room.id]
                return out  # its own node refuses it when it sees the winner
            for loser in losers:
                out += self._lose_race(room, loser, now)
        if joining is not None:
            room.local[rec.pid] = joining
        room.seats[rec.pid] = rec
        if rec.status is PeerStatus.RECONNECTING:
            self._in_grace[room.id] = None
        if rec.node != self.node:
            self._remote_rooms[room.id] = None
            self._seat_nodes.add(rec.node)
        # The state changes first so `joined` carries it; others hear of it last.
        state_news = self._update_state(room, exclude=joining)
        for other_pid, other_conn in room.local.items():
            if other_pid != rec.pid:
                out += self._notify(room, room.seats[other_pid], other_conn, existing, event)
        out += state_news
        if joining is not None:
            out += self._welcome(room, rec, joining, resumed=change is SeatChange.RESUMED)
        if rec.connected and not room.started and room.call_ready():
            room.started = True
            staff = [s for s in room.seats.values() if s.role is Role.STAFF]
            if staff and staff[0].node == self.node:
                log.info("room %s: call started", room.id)
                out.append(Record(self._event(room.id, EventKind.CALL_START, now, None)))
        return out + self._lobby_update()

    def _notify(
        self,
        room: Room,
        viewer: SeatRecord,
        conn: ConnId,
        existing: SeatRecord | None,
        event: SeatEvent,
    ) -> list[Action]:
        rec, change = event.seat, event.change
        info = peer_info(rec, viewer)
        if change is SeatChange.SYNC and existing is not None:
            if existing.status is rec.status:
                return []
            change = (
                SeatChange.RECONNECTING
                if rec.status is PeerStatus.RECONNECTING
                else SeatChange.RESUMED
            )
        match change:
            case SeatChange.JOINED | SeatChange.SYNC:
                return [Send(conn, PeerJoined(peer=info))]
            case SeatChange.REPLACED:
                if existing is None:
                    return [Send(conn, PeerJoined(peer=info))]
                return [
                    Send(conn, PeerLeft(peer=rec.pid, reason=LeaveReason.REPLACED)),
                    Send(conn, PeerJoined(peer=info)),
                ]
            case SeatChange.RECONNECTING:
                grace = math.ceil(self.config.grace_seconds)
                return [Send(conn, PeerReconnecting(peer=rec.pid, grace=grace))]
            case SeatChange.RESUMED:
                if existing is None:
                    return [Send(conn, PeerJoined(peer=info))]
                return [Send(conn, PeerResumed(peer=rec.pid, initiator=info.initiator))]
            case SeatChange.CONNECTED:
                return []

    def _welcome(self, room: Room, me: SeatRecord, conn: ConnId, *, resumed: bool) -> list[Action]:
        peers = tuple(peer_info(s, me) for s in room.seats.values() if s.pid != me.pid)
        joined = Joined(
            room=room.id,
            you=you(me),
            state=room.state,
            peers=peers,
            session=me.session,
            resumed=resumed,
            grace=math.ceil(self.config.grace_seconds),
        )
        out: list[Action] = [Send(conn, joined)]
        if resumed:
            out += [
                Send(conn, RestartIce(peer=p.id))
                for p in peers
                if p.initiator and p.status is PeerStatus.PRESENT
            ]
        return out

    def _lose_race(self, room: Room, loser: SeatRecord, now: datetime) -> list[Action]:
        log.warning("room %s: seat conflict across nodes; a later join is refused", room.id)
        out: list[Action] = []
        conn_id = room.local.pop(loser.pid, None)
        if loser.node == self.node:
            detail = {"reason": "conflict"}
            out.append(Record(self._event(room.id, EventKind.LEAVE, now, loser, detail)))
            if conn_id is not None and (conn := self._conns.get(conn_id)) is not None:
                out += self._fatal(conn, ErrorCode.ROOM_FULL, "join")
        del room.seats[loser.pid]
        left = PeerLeft(peer=loser.pid, reason=LeaveReason.REPLACED)
        return out + [Send(c, left) for c in room.local.values()]

    def _release(self, room: Room, pid: str, reason: LeaveReason, now: datetime) -> list[Action]:
        seat = room.seats.pop(pid, None)
        if seat is None:
            return []
        conn_id = room.local.pop(pid, None)
        if conn_id is not None and (conn := self._conns.get(conn_id)) is not None:
            conn.room = conn.pid = None
        out: list[Action] = [
            Send(c, PeerLeft(peer=pid, reason=reason)) for c in room.local.values()
        ]
        if not room.seats:
            del self._rooms[room.id]
        else:
            out += self._update_state(room, exclude=None)
        return out + self._lobby_update()

    def _end_room(self, room_id: str, by: str | None, now: datetime) -> list[Action]:
        self._ended[room_id] = now.timestamp()
        room = self._rooms.pop(room_id, None)
        out: list[Action] = []
        if room is not None:
            room.transition(RoomState.ENDED)
            detail = {"reason": LeaveReason.ENDED.value}
            # All records first: the caller makes them durable before anyone hears.
            for pid in room.local:
                seat = room.seats[pid]
                out.append(Record(self._event(room_id, EventKind.LEAVE, now, seat, detail)))
            for conn_id in room.local.values():
                out.append(Send(conn_id, Ended(by=by)))
                out.append(Close(conn_id, CloseCode.CALL_ENDED, "call ended"))
                conn = self._conns.get(conn_id)
                if conn is not None:
                    conn.closing, conn.room, conn.pid = True, None, None
        return out + self._lobby_update()

    def _update_state(self, room: Room, exclude: ConnId | None) -> list[Action]:
        new = room.settled_state()
        if new is room.state:
            return []
        room.transition(new)
        log.info("room %s: now %s", room.id, new.value)
        msg = RoomStateChanged(state=new)
        return [Send(c, msg) for c in room.local.values() if c != exclude]

    def _lobby_update(self) -> list[Action]:
        if not self._lobby:
            self._last_waiting = None
            return []
        snapshot = self.waiting()
        if snapshot == self._last_waiting:
            return []
        self._last_waiting = snapshot
        msg = Waiting(rooms=snapshot)
        return [Send(c, msg) for c in sorted(self._lobby)]

    def _fatal(self, conn: ConnState, code: ErrorCode, ref: str | None) -> list[Action]:
        conn.closing = True
        self._unpend(conn)
        return [
            Send(conn.id, Error.of(code, ref)),
            Close(conn.id, FATAL_CLOSE_CODES[code], code.value),
        ]

    def _event(
        self,
        room: str,
        kind: EventKind,
        now: datetime,
        seat: SeatRecord | None,
        detail: Mapping[str, str] | None = None,
    ) -> CallEvent:
        return CallEvent(
            room=room,
            kind=kind,
            at=now.astimezone(UTC),
            node=self.node,
            participant=seat.pid if seat else None,
            role=seat.role if seat else None,
            detail=dict(detail or {}),
        )
