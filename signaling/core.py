"""The sans-I/O signaling core, modelled on websockets' ``protocol.py``.

``SignalingCore`` is fed events and returns the actions to perform, in order:

- ``connect(conn, now)``, ``receive(conn, data, now)``, ``disconnect(conn, now)``
  for this node's sockets;
- ``remote(event, now)`` for bus events published by other nodes;
- ``tick(now)`` about once a second: join timeouts, grace expiry, heartbeats,
  dead nodes.

Actions are ``Send``/``SendText`` (a frame to a local connection), ``Close``,
``Record`` (a call event; queued, and flushed before what follows a call-end)
and ``Publish`` (a bus event). There is no asyncio, socket or clock here:
``now`` is passed in, identifiers come from an injected factory, and
authentication is an injected ``authenticate(token, now)`` callable.

Every node keeps a replicated view of all rooms; local and remote seat changes
go through the same ``_apply_seat`` so both nodes of a call reach the same view
(see "Several nodes" in docs/signaling.md).
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime

from signaling.actions import (
    Action,
    Admission,
    Authenticate,
    Close,
    CoreConfig,
    Publish,
    Record,
    Send,
    SendText,
    VerifyDocument,
)
from signaling.bus import (
    BusEvent,
    DeliverEvent,
    EndedEvent,
    HeartbeatEvent,
    ReleaseEvent,
    SeatChange,
    SeatEvent,
    SeatRecord,
)
from signaling.errors import (
    AdmissionError,
    CloseCode,
    ErrorCode,
    ProtocolError,
    SignalingError,
)
from signaling.events import EventKind
from signaling.limits import ErrorWindow, TokenBucket
from signaling.messages import (
    SUPPORTED_VERSIONS,
    Answer,
    Candidate,
    Connected,
    Consent,
    ConsentRequest,
    Document,
    End,
    Error,
    Join,
    Joined,
    Leave,
    LeaveReason,
    Message,
    Offer,
    PeerStatus,
    Ping,
    Pong,
    RestartIce,
    Role,
    RoomState,
    ServerMessage,
    Transfer,
    Waiting,
    You,
    parse,
    relayed_text,
    serialize,
)
from signaling.room import (
    VISITOR_ROLES,
    ConnId,
    Room,
    initiator_of,
)
from signaling.view import LOBBY_ROOM, ConnState, RoomView

__all__ = [
    "LOBBY_ROOM",
    "Action",
    "Admission",
    "Authenticate",
    "Close",
    "CoreConfig",
    "Publish",
    "Record",
    "Send",
    "SendText",
    "SignalingCore",
]

log = logging.getLogger(__name__)


def _default_session_id() -> str:
    return secrets.token_urlsafe(12)


def you_of(adm: Admission) -> You:
    return You(id=adm.participant_id, role=adm.role, name=adm.display_name)


class SignalingCore(RoomView):
    def __init__(
        self,
        *,
        node: str,
        authenticate: Authenticate,
        config: CoreConfig | None = None,
        ended_rooms: Iterable[str] = (),
        new_session_id: Callable[[], str] = _default_session_id,
        verify_document: VerifyDocument | None = None,
    ) -> None:
        super().__init__(node=node, config=config or CoreConfig(), ended_rooms=ended_rooms)
        self._authenticate = authenticate
        # Without one, a pushed link is only checked for its form: it can then
        # point at nothing but the app's download route, which verifies it too.
        self._verify_document = verify_document
        self._new_session_id = new_session_id
        self._last_heartbeat: float | None = None

    def connect(self, conn_id: ConnId, now: datetime, address: str | None = None) -> list[Action]:
        """A socket opened, from client ``address`` when known (per-address limits)."""
        t = now.timestamp()
        conn = ConnState(
            id=conn_id,
            opened=t,
            bucket=TokenBucket(rate=self.config.rate, burst=self.config.burst),
            errors=ErrorWindow(limit=self.config.abuse_errors, window=self.config.abuse_window),
        )
        self._conns[conn_id] = conn
        key = None if address is None else self._addresses.key(address)
        if key is not None:
            refusal = self._addresses.admit(key, t)
            if refusal is not None:
                # Refused before it says anything: no error frame to a flood.
                conn.closing = True
                return [Close(conn_id, CloseCode.TRY_AGAIN_LATER, refusal.value)]
            conn.address = key
        self._pending[conn_id] = t
        return []

    def receive(self, conn_id: ConnId, data: str | bytes, now: datetime) -> list[Action]:
        conn = self._conns.get(conn_id)
        if conn is None or conn.closing:
            return []
        t = now.timestamp()
        if not conn.bucket.take(t):
            return self._error(conn, ErrorCode.RATE_LIMITED, None, t)
        if not isinstance(data, str):
            return self._error(conn, ErrorCode.BINARY_NOT_SUPPORTED, None, t)
        try:
            message = parse(data)
        except ProtocolError as exc:
            return self._error(conn, exc.code, None, t)
        try:
            return self._dispatch(conn, message, now)
        except SignalingError as exc:
            return self._error(conn, exc.code, message.type, t)

    def disconnect(self, conn_id: ConnId, now: datetime) -> list[Action]:
        conn = self._conns.pop(conn_id, None)
        if conn is not None:
            self._unpend(conn)
        self._lobby.discard(conn_id)
        if conn is None or conn.room is None or conn.pid is None or conn.lobby:
            return []
        room = self._rooms.get(conn.room)
        if room is None or room.local.get(conn.pid) != conn_id:
            return []  # replaced, left or ended already
        del room.local[conn.pid]
        seat = room.seats[conn.pid]
        t = now.timestamp()
        held = replace(
            seat,
            status=PeerStatus.RECONNECTING,
            grace_until=t + self.config.grace_seconds,
            connected=False,
        )
        log.info("room %s: participant socket dropped; seat kept for grace", room.id)
        event = SeatEvent(seat=held, change=SeatChange.RECONNECTING)
        out: list[Action] = [Record(self._event(room.id, EventKind.RECONNECTING, now, seat))]
        out += self._apply_seat(event, now)
        out.append(Publish(event))
        return out

    def tick(self, now: datetime) -> list[Action]:
        t = now.timestamp()
        out: list[Action] = []
        for conn_id, opened in list(self._pending.items()):
            if opened + self.config.join_timeout <= t:
                out += self._fatal(self._conns[conn_id], ErrorCode.JOIN_TIMEOUT, None)
        self._addresses.prune(t)
        if (
            self._last_heartbeat is None
            or t - self._last_heartbeat >= self.config.heartbeat_interval
        ):
            self._last_heartbeat = t
            out.append(Publish(HeartbeatEvent(node=self.node)))
        out += self._sweep(now)
        self._forget_ended(t)
        return out

    def remote(self, event: BusEvent, now: datetime) -> list[Action]:
        if event.node == self.node:
            return []
        if event.node:
            self._node_seen[event.node] = now.timestamp()
        match event:
            case SeatEvent():
                return self._apply_seat(event, now)
            case ReleaseEvent():
                room = self._rooms.get(event.room)
                seat = room.seats.get(event.pid) if room else None
                if room is None or seat is None or seat.epoch > event.epoch:
                    return []
                if seat.node == self.node:
                    return []  # someone wrongly thought we were dead; we hold it
                return self._release(room, event.pid, event.reason, now)
            case EndedEvent():
                return self._end_room(event.room, event.by, now)
            case DeliverEvent():
                room = self._rooms.get(event.room)
                conn_id = room.local.get(event.to) if room else None
                return [] if conn_id is None else [SendText(conn_id, event.text)]
            case HeartbeatEvent():
                return []
        return []  # pragma: no cover

    def load(self, events: Iterable[BusEvent], now: datetime) -> list[Action]:
        """Apply a snapshot of the shared store (at start-up or after a bus outage)."""
        out: list[Action] = []
        for event in events:
            if isinstance(event, EndedEvent) and not event.node:
                self._ended.setdefault(event.room, now.timestamp())
                continue
            out += self.remote(event, now)
        return out

    def _dispatch(self, conn: ConnState, message: Message, now: datetime) -> list[Action]:
        if isinstance(message, Ping):
            return [Send(conn.id, Pong(nonce=message.nonce))]
        if isinstance(message, Join):
            return self._join(conn, message, now)
        if conn.room is None:
            raise ProtocolError(code=ErrorCode.NOT_JOINED)
        if conn.lobby:
            # The lobby only listens; it has no seat to act from.
            raise ProtocolError(code=ErrorCode.FORBIDDEN)
        room = self._rooms.get(conn.room)
        me = room.seats.get(conn.pid) if room and conn.pid else None
        if room is None or me is None:
            raise ProtocolError(code=ErrorCode.NOT_JOINED)
        match message:
            case Offer() | Answer() | Candidate():
                return self._relay(room, me, message)
            case Connected():
                return self._connected(room, me, message, now)
            case RestartIce():
                return self._restart_ice(room, me, message.peer)
            case Leave():
                return self._leave(conn, room, me, now)
            case Transfer():
                return self._transfer(room, me, message, now)
            case ConsentRequest() | Consent() | Document():
                return self._documents(room, me, message, now)
            case End():
                if me.role is not Role.STAFF:
                    raise ProtocolError(code=ErrorCode.FORBIDDEN)
                log.info("room %s: ended by staff", room.id)
                out: list[Action] = [Record(self._event(room.id, EventKind.CALL_END, now, me))]
                out.append(Publish(EndedEvent(room=room.id, by=me.pid, node=self.node)))
                return out + self._end_room(room.id, me.pid, now)
        raise ProtocolError(code=ErrorCode.UNKNOWN_TYPE)  # pragma: no cover

    def _join(self, conn: ConnState, msg: Join, now: datetime) -> list[Action]:
        if conn.room is not None:
            raise ProtocolError(code=ErrorCode.ALREADY_JOINED)
        if msg.v not in SUPPORTED_VERSIONS:
            raise ProtocolError(code=ErrorCode.UNSUPPORTED_VERSION)
        adm = self._authenticate(msg.token, now)
        if adm.room != msg.room:
            raise AdmissionError(code=ErrorCode.WRONG_ROOM)
        if msg.role is not None and msg.role is not adm.role:
            raise AdmissionError(code=ErrorCode.WRONG_ROLE)
        if msg.room == LOBBY_ROOM:
            if adm.role is not Role.STAFF:
                raise AdmissionError(code=ErrorCode.WRONG_ROLE)
            return self._join_lobby(conn, adm)
        if msg.room in self._ended:
            raise AdmissionError(code=ErrorCode.ROOM_ENDED)
        room = self._rooms.get(msg.room) or Room(id=msg.room)
        t = now.timestamp()
        pid = adm.participant_id
        existing = room.seats.get(pid)
        session = self._new_session_id()
        since, epoch, change = t, 1, SeatChange.JOINED
        if existing is not None:
            epoch = existing.epoch + 1
            change = SeatChange.REPLACED
            if msg.resume is not None and secrets.compare_digest(msg.resume, existing.session):
                change, session, since = SeatChange.RESUMED, existing.session, existing.since
        else:
            group = self.config.group_of(adm.role, handover=adm.handover)
            if len(room.group_members(group, self.config.seat_groups)) >= self.config.seats.get(
                group, 0
            ):
                raise AdmissionError(code=ErrorCode.ROOM_FULL)
        self._rooms[room.id] = room
        seat = SeatRecord(
            room=room.id,
            pid=pid,
            role=adm.role,
            name=adm.display_name,
            node=self.node,
            session=session,
            status=PeerStatus.PRESENT,
            since=since,
            epoch=epoch,
            handover=adm.handover if existing is None else existing.handover,
            language=adm.language,
        )
        self._unpend(conn)
        conn.room, conn.pid = room.id, pid
        kind = EventKind.RESUMED if change is SeatChange.RESUMED else EventKind.JOIN
        log.info("room %s: %s %s (%s)", room.id, adm.role.value, change.value, kind.value)
        event = SeatEvent(seat=seat, change=change)
        # Who served the visitor goes into the record (staff names are not
        # residents' personal data); the record splits segments on them.
        detail = {} if seat.role in VISITOR_ROLES else {"name": seat.name}
        if seat.handover:
            detail["handover"] = "true"
        out: list[Action] = [Record(self._event(room.id, kind, now, seat, detail))]
        out += self._apply_seat(event, now, joining=conn.id)
        out.append(Publish(event))
        return out

    def _join_lobby(self, conn: ConnState, adm: Admission) -> list[Action]:
        self._unpend(conn)
        conn.room, conn.pid, conn.lobby = LOBBY_ROOM, adm.participant_id, True
        self._lobby.add(conn.id)
        joined = Joined(
            room=LOBBY_ROOM,
            you=you_of(adm),
            state=RoomState.WAITING,
            peers=(),
            session="",
            grace=math.ceil(self.config.grace_seconds),
        )
        return [Send(conn.id, joined), Send(conn.id, Waiting(rooms=self.waiting()))]

    def _relay(self, room: Room, me: SeatRecord, msg: Offer | Answer | Candidate) -> list[Action]:
        assert msg.to is not None  # parse() requires it from clients
        target = room.seats.get(msg.to)
        if target is None or target.pid == me.pid:
            raise ProtocolError(code=ErrorCode.UNKNOWN_PEER)
        if target.status is not PeerStatus.PRESENT:
            # Lost anyway: negotiation is redone by the ICE restart after resume.
            return []
        # The hot path of the server: encoded once, straight from the parsed
        # message (serialize(replace(msg, to=None, from_=...)) gives the same text).
        text = relayed_text(msg, me.pid)
        conn_id = room.local.get(target.pid)
        if conn_id is not None:
            return [SendText(conn_id, text)]
        if target.node == self.node:
            return []  # our seat, socket gone: reconnecting
        return [Publish(DeliverEvent(room.id, target.pid, target.node, text, self.node))]

    def _deliver(self, room: Room, target: SeatRecord, msg: ServerMessage) -> list[Action]:
        conn_id = room.local.get(target.pid)
        if conn_id is not None:
            return [Send(conn_id, msg)]
        if target.node == self.node:
            return []  # our seat, socket gone: reconnecting
        event = DeliverEvent(room.id, target.pid, target.node, serialize(msg), self.node)
        return [Publish(event)]

    def _connected(self, room: Room, me: SeatRecord, msg: Connected, now: datetime) -> list[Action]:
        if msg.peer is not None and (msg.peer not in room.seats or msg.peer == me.pid):
            raise ProtocolError(code=ErrorCode.UNKNOWN_PEER)
        if me.connected:
            return []
        event = SeatEvent(seat=replace(me, connected=True), change=SeatChange.CONNECTED)
        return [*self._apply_seat(event, now), Publish(event)]

    def _restart_ice(self, room: Room, me: SeatRecord, peer: str | None) -> list[Action]:
        if peer is not None and (peer not in room.seats or peer == me.pid):
            raise ProtocolError(code=ErrorCode.UNKNOWN_PEER)
        targets = [room.seats[peer]] if peer else [s for s in room.seats.values() if s != me]
        out: list[Action] = []
        for other in targets:
            if other.pid == me.pid or other.status is not PeerStatus.PRESENT:
                continue
            if initiator_of(me, other) == me.pid:
                out += self._deliver(room, me, RestartIce(peer=other.pid))
            else:
                out += self._deliver(room, other, RestartIce(peer=me.pid))
        return out

    def _transfer(self, room: Room, me: SeatRecord, msg: Transfer, now: datetime) -> list[Action]:
        if me.role is not Role.STAFF:
            raise ProtocolError(code=ErrorCode.FORBIDDEN)
        detail = {"mode": msg.mode.value}
        if msg.target is not None:
            detail["target"] = msg.target
        if msg.department is not None:
            detail["department"] = msg.department
        log.info("room %s: %s hand-over announced", room.id, msg.mode.value)
        out: list[Action] = [Record(self._event(room.id, EventKind.TRANSFER, now, me, detail))]
        notice = Transfer(mode=msg.mode, target=msg.target, department=msg.department, by=me.pid)
        for other in list(room.seats.values()):
            if other.pid != me.pid and other.status is PeerStatus.PRESENT:
                out += self._deliver(room, other, notice)
        return out

    def _documents(
        self, room: Room, me: SeatRecord, msg: ConsentRequest | Consent | Document, now: datetime
    ) -> list[Action]:
        # Only staff ask and push; only the visitor (whose camera it is) consents.
        may = me.role in VISITOR_ROLES if isinstance(msg, Consent) else me.role is Role.STAFF
        if not may:
            raise ProtocolError(code=ErrorCode.FORBIDDEN)
        detail: dict[str, str] = {}
        match msg:
            case ConsentRequest() | Consent():
                assert msg.to is not None  # parse() requires it from clients
                target = room.seats.get(msg.to)
                if target is None or target.pid == me.pid:
                    raise ProtocolError(code=ErrorCode.UNKNOWN_PEER)
                detail = {"purpose": msg.purpose.value, "to": target.pid}
                if isinstance(msg, Consent):
                    detail["granted"] = "true" if msg.granted else "false"
                    kind = EventKind.CONSENT
                else:
                    kind = EventKind.CONSENT_REQUEST
                targets = [target]
            case Document():
                if self._verify_document is not None and not self._verify_document(msg.token, now):
                    raise ProtocolError("document link not signed", code=ErrorCode.INVALID_MESSAGE)
                detail, kind = {"name": msg.name}, EventKind.DOCUMENT
                targets = [s for s in room.seats.values() if s.pid != me.pid]
        out: list[Action] = [Record(self._event(room.id, kind, now, me, detail))]
        relayed: ServerMessage = (
            replace(msg, to=None, from_=me.pid)
            if not isinstance(msg, Document)
            else replace(msg, from_=me.pid)
        )
        for other in targets:
            if other.status is PeerStatus.PRESENT:
                out += self._deliver(room, other, relayed)
        return out

    def _leave(self, conn: ConnState, room: Room, me: SeatRecord, now: datetime) -> list[Action]:
        conn.closing = True
        detail = {"reason": LeaveReason.LEFT.value}
        out: list[Action] = [Record(self._event(room.id, EventKind.LEAVE, now, me, detail))]
        out += self._release(room, me.pid, LeaveReason.LEFT, now)
        out.append(Publish(ReleaseEvent(room.id, me.pid, me.epoch, LeaveReason.LEFT, self.node)))
        out.append(Close(conn.id, CloseCode.NORMAL, "left"))
        return out

    def _error(self, conn: ConnState, code: ErrorCode, ref: str | None, t: float) -> list[Action]:
        err = SignalingError(code=code)
        if err.fatal:
            return self._fatal(conn, code, ref)
        out: list[Action] = [Send(conn.id, Error.of(code, ref))]
        if conn.errors.add(t):
            log.warning("room %s: closing a connection for repeated errors", conn.room or "-")
            out += self._fatal(conn, ErrorCode.ABUSE, None)
        return out
