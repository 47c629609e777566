"""Typed wire messages of the signaling protocol, with ONE parse and ONE serialize.

Every frame is a JSON object with a ``type``. Field names on the wire are the
browser's (``sdp``, ``candidate``, ``sdpMid``, ``sdpMLineIndex``,
``usernameFragment``) so a page can hand them straight to
``RTCPeerConnection``; Python attributes are snake_case and ``serialize`` maps
them. The encoding lives here, apart from how messages travel (aiortc's
``contrib/signaling.py`` does the same), so the server, the Python client
library and the tests share it. The protocol is described in docs/signaling.md.

``parse(text, source=Source.CLIENT)`` validates a frame sent by a browser (the
server's view); ``parse(text, source=Source.SERVER)`` validates a frame sent by
the server (a client library's view). Unknown extra fields are ignored so that
later minor versions can add fields without breaking older peers.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Final, Literal, TypeAlias
from urllib.parse import unquote, urlsplit

import orjson

from signaling.errors import ERROR_TEXT, ErrorCode, ProtocolError

PROTOCOL_VERSION: Final = 1
SUPPORTED_VERSIONS: Final = frozenset({1})

# A whole frame, in characters. Real SDP offers are 3-10 KB; 64 Ki leaves room
# for many m-lines while keeping one abusive frame cheap to refuse.
MAX_MESSAGE_CHARS: Final = 64 * 1024
MAX_ID_CHARS: Final = 128
MAX_TOKEN_CHARS: Final = 4096
MAX_CANDIDATE_CHARS: Final = 2048
MAX_NONCE_CHARS: Final = 64
# `negotiation` ids must survive a browser's JSON numbers unrounded.
MAX_NEGOTIATION: Final = 2**53 - 1


class Source(StrEnum):
    CLIENT = "client"  # browser / kiosk / client library -> server
    SERVER = "server"  # server -> client


class Role(StrEnum):
    RESIDENT = "resident"
    STAFF = "staff"
    KIOSK = "kiosk"
    INTERPRETER = "interpreter"
    OBSERVER = "observer"


class RoomState(StrEnum):
    WAITING = "waiting"  # no staff member present yet
    ACTIVE = "active"  # a staff member is present
    ENDED = "ended"  # staff ended the call; terminal


class PeerStatus(StrEnum):
    PRESENT = "present"
    RECONNECTING = "reconnecting"  # socket dropped, seat kept for the grace period


class TransferMode(StrEnum):
    WARM = "warm"  # the new staff member joins while the first is still present
    COLD = "cold"  # the first leaves; the visitor waits in the room for the next


class LeaveReason(StrEnum):
    LEFT = "left"  # sent `leave`
    TIMEOUT = "timeout"  # grace period ran out without a resume
    REPLACED = "replaced"  # the same participant joined afresh from another socket
    ENDED = "ended"  # the room ended


# --------------------------------------------------------------------------- parts


@dataclass(frozen=True, slots=True)
class IceCandidate:
    """``RTCIceCandidateInit``; ``candidate == ""`` is a browser's end-of-candidates."""

    candidate: str
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None
    username_fragment: str | None = None

    def __post_init__(self) -> None:
        if len(self.candidate) > MAX_CANDIDATE_CHARS:
            raise ProtocolError("candidate too long", code=ErrorCode.INVALID_MESSAGE)
        if self.sdp_mid is None and self.sdp_mline_index is None and self.candidate:
            raise ProtocolError("candidate needs sdpMid or sdpMLineIndex")
        if self.sdp_mline_index is not None and not 0 <= self.sdp_mline_index <= 1023:
            raise ProtocolError("sdpMLineIndex out of range")

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "candidate": self.candidate,
            "sdpMid": self.sdp_mid,
            "sdpMLineIndex": self.sdp_mline_index,
        }
        if self.username_fragment is not None:
            wire["usernameFragment"] = self.username_fragment
        return wire


@dataclass(frozen=True, slots=True)
class PeerInfo:
    """A participant as seen by the others.

    ``initiator`` is relative to the receiver: true means "you send the offer
    to this peer" (you are the impolite side of the pair). Exactly one side of
    every pair gets ``true``; see ``initiator_of`` in signaling.room.
    """

    id: str
    role: Role
    name: str
    status: PeerStatus = PeerStatus.PRESENT
    initiator: bool = False
    # An interpreter's language ("jsl": sign language); sent only when set.
    language: str = ""

    def to_wire(self) -> dict[str, Any]:
        wire = {
            "id": self.id,
            "role": self.role.value,
            "name": self.name,
            "status": self.status.value,
            "initiator": self.initiator,
        }
        if self.language:
            wire["language"] = self.language
        return wire


@dataclass(frozen=True, slots=True)
class You:
    id: str
    role: Role
    name: str

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "role": self.role.value, "name": self.name}


@dataclass(frozen=True, slots=True)
class WaitingRoom:
    """One room with someone waiting and no staff, for the staff console."""

    room: str
    since: str  # ISO 8601 UTC, when the first waiting participant arrived
    participants: tuple[You, ...]

    def to_wire(self) -> dict[str, Any]:
        return {
            "room": self.room,
            "since": self.since,
            "participants": [p.to_wire() for p in self.participants],
        }


# ------------------------------------------------------------------ client -> server


@dataclass(frozen=True, slots=True)
class Join:
    token: str
    room: str
    v: int = PROTOCOL_VERSION
    role: Role | None = None  # optional: refuse if the token grants another role
    resume: str | None = None  # session id from a previous `joined`
    type: ClassVar[Literal["join"]] = "join"


@dataclass(frozen=True, slots=True)
class Offer:
    """An SDP offer; ``to`` when a client sends it, ``from_`` when relayed.

    ``negotiation`` (optional, relayed as is) identifies the offer: the offerer
    raises it with every offer to a peer, and the answer echoes it, so a stale
    answer (to an offer since replaced) or a superseded offer can be told apart
    (docs/signaling.md, "Negotiation ids").
    """

    sdp: str
    to: str | None = None
    from_: str | None = None
    negotiation: int | None = None
    type: ClassVar[Literal["offer"]] = "offer"


@dataclass(frozen=True, slots=True)
class Answer:
    """An SDP answer; ``negotiation`` is that of the offer it answers."""

    sdp: str
    to: str | None = None
    from_: str | None = None
    negotiation: int | None = None
    type: ClassVar[Literal["answer"]] = "answer"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A trickled ICE candidate; ``candidate=None`` means end-of-candidates."""

    candidate: IceCandidate | None
    to: str | None = None
    from_: str | None = None
    type: ClassVar[Literal["candidate"]] = "candidate"


@dataclass(frozen=True, slots=True)
class Leave:
    type: ClassVar[Literal["leave"]] = "leave"


@dataclass(frozen=True, slots=True)
class End:
    type: ClassVar[Literal["end"]] = "end"


@dataclass(frozen=True, slots=True)
class Ping:
    nonce: str | None = None
    type: ClassVar[Literal["ping"]] = "ping"


@dataclass(frozen=True, slots=True)
class Connected:
    """The sender's RTCPeerConnection reached ``connected`` (with ``peer``, if given)."""

    peer: str | None = None
    type: ClassVar[Literal["connected"]] = "connected"


@dataclass(frozen=True, slots=True)
class RestartIce:
    """Client -> server: please arrange an ICE restart with ``peer`` (or all peers).

    Server -> client: you are the initiator towards ``peer``; create an offer
    with ``iceRestart: true`` and send it.
    """

    peer: str | None = None
    type: ClassVar[Literal["restart-ice"]] = "restart-ice"


@dataclass(frozen=True, slots=True)
class Transfer:
    """Staff hand the call over (no たらい回し): to ``target`` (a staff participant
    id) and/or ``department``. Client -> server it is announced and recorded;
    server -> client it carries ``by``, the staff member handing over. Who joins
    and who leaves is up to the clients (``join`` with a hand-over ticket,
    ``leave``): the visitor's seat is never touched.
    """

    mode: TransferMode
    target: str | None = None
    department: str | None = None
    by: str | None = None
    type: ClassVar[Literal["transfer"]] = "transfer"


class ConsentPurpose(StrEnum):
    PHOTO = "photo"  # staff take a still of the document the resident shows
    # The resident signed (granted) or declined a pushed form (docs/forms.md);
    # sent after the app took the signature, so staff reload the form at once.
    FORM = "form"


MAX_URL_CHARS: Final = 2048
MAX_NAME_CHARS: Final = 256


@dataclass(frozen=True, slots=True)
class ConsentRequest:
    """Staff ask the visitor ``to`` for on-screen consent (e.g. to take a photo)."""

    purpose: ConsentPurpose
    to: str | None = None
    from_: str | None = None
    type: ClassVar[Literal["consent-request"]] = "consent-request"


@dataclass(frozen=True, slots=True)
class Consent:
    """The visitor's answer to ``to`` (the staff member who asked): granted or not."""

    purpose: ConsentPurpose
    granted: bool
    to: str | None = None
    from_: str | None = None
    type: ClassVar[Literal["consent"]] = "consent"


@dataclass(frozen=True, slots=True)
class Document:
    """Staff push a document or form to the others' screens: a signed ``url``."""

    url: str
    name: str
    from_: str | None = None
    type: ClassVar[Literal["document"]] = "document"

    def __post_init__(self) -> None:
        if document_token(self.url) is None:
            raise ProtocolError("document url", code=ErrorCode.INVALID_MESSAGE)

    @property
    def token(self) -> str:
        """The signed document token the url carries (checked in ``__post_init__``)."""
        return self.url.removeprefix(DOCUMENT_PATH)


DOCUMENT_PATH: Final = "/api/v1/documents/"
# What the app's signed tokens are made of (URL-safe base64 and dots).
_DOCUMENT_TOKEN = re.compile(r"[A-Za-z0-9_\-.]+")


def document_token(url: str) -> str | None:
    """The token of one of our own document links, or None for anything else.

    A browser resolves ``/api/v1/documents/../../staff/logout`` (or its
    percent-encoded form) to ``/staff/logout``, so a prefix check alone would
    let staff push any same-site URL to the others' screens. The url must be a
    bare path, already in normal form (percent-decoding and ``posixpath.normpath``
    change nothing), of exactly ``/api/v1/documents/<token>``.
    """
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or parts.query or parts.fragment or parts.path != url:
        return None
    path = unquote(url)
    if path != url or "\\" in path or posixpath.normpath(path) != path:
        return None
    token = path.removeprefix(DOCUMENT_PATH)
    if token == path or not _DOCUMENT_TOKEN.fullmatch(token):
        return None
    return token


# ------------------------------------------------------------------ server -> client


@dataclass(frozen=True, slots=True)
class Joined:
    room: str
    you: You
    state: RoomState
    peers: tuple[PeerInfo, ...]
    session: str
    resumed: bool = False
    grace: int = 30  # seconds a dropped socket keeps its seat
    v: int = PROTOCOL_VERSION
    type: ClassVar[Literal["joined"]] = "joined"


@dataclass(frozen=True, slots=True)
class PeerJoined:
    peer: PeerInfo
    type: ClassVar[Literal["peer-joined"]] = "peer-joined"


@dataclass(frozen=True, slots=True)
class PeerLeft:
    peer: str
    reason: LeaveReason = LeaveReason.LEFT
    type: ClassVar[Literal["peer-left"]] = "peer-left"


@dataclass(frozen=True, slots=True)
class PeerReconnecting:
    peer: str
    grace: int
    type: ClassVar[Literal["peer-reconnecting"]] = "peer-reconnecting"


@dataclass(frozen=True, slots=True)
class PeerResumed:
    """``initiator`` true: you send the ICE-restart offer to ``peer``."""

    peer: str
    initiator: bool
    type: ClassVar[Literal["peer-resumed"]] = "peer-resumed"


@dataclass(frozen=True, slots=True)
class RoomStateChanged:
    state: RoomState
    type: ClassVar[Literal["room-state"]] = "room-state"


@dataclass(frozen=True, slots=True)
class Waiting:
    rooms: tuple[WaitingRoom, ...]
    type: ClassVar[Literal["waiting"]] = "waiting"


@dataclass(frozen=True, slots=True)
class Ended:
    by: str | None = None
    type: ClassVar[Literal["ended"]] = "ended"


@dataclass(frozen=True, slots=True)
class Pong:
    nonce: str | None = None
    type: ClassVar[Literal["pong"]] = "pong"


@dataclass(frozen=True, slots=True)
class Error:
    code: ErrorCode
    message: str = ""
    message_ja: str = ""
    ref: str | None = None  # the `type` of the offending message, when known

    @classmethod
    def of(cls, code: ErrorCode, ref: str | None = None) -> Error:
        en, ja = ERROR_TEXT[code]
        return cls(code=code, message=en, message_ja=ja, ref=ref)

    type: ClassVar[Literal["error"]] = "error"


ClientMessage: TypeAlias = (
    Join
    | Offer
    | Answer
    | Candidate
    | Leave
    | End
    | Ping
    | Connected
    | RestartIce
    | Transfer
    | ConsentRequest
    | Consent
    | Document
)
ServerMessage: TypeAlias = (
    Joined
    | PeerJoined
    | PeerLeft
    | PeerReconnecting
    | PeerResumed
    | Offer
    | Answer
    | Candidate
    | RestartIce
    | RoomStateChanged
    | Waiting
    | Ended
    | Pong
    | Transfer
    | ConsentRequest
    | Consent
    | Document
    | Error
)
Message: TypeAlias = ClientMessage | ServerMessage


# ------------------------------------------------------------------------- parsing


def _invalid(detail: str) -> ProtocolError:
    return ProtocolError(detail, code=ErrorCode.INVALID_MESSAGE)


def _str(
    d: Mapping[str, Any], key: str, *, max_chars: int, optional: bool = False, empty: bool = False
) -> Any:
    value = d.get(key)
    if value is None:
        if optional:
            return None
        raise _invalid(f"missing {key!r}")
    if not isinstance(value, str):
        raise _invalid(f"{key!r} must be a string")
    if len(value) > max_chars:
        raise _invalid(f"{key!r} longer than {max_chars}")
    if not value and not empty:
        raise _invalid(f"{key!r} must not be empty")
    return value


def _int(d: Mapping[str, Any], key: str, *, optional: bool = False) -> Any:
    value = d.get(key)
    if value is None and optional:
        return None
    # bool is an int subclass in Python; JSON true is not a number.
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid(f"{key!r} must be an integer")
    return value


def _bool(d: Mapping[str, Any], key: str) -> bool:
    value = d.get(key, False)
    if not isinstance(value, bool):
        raise _invalid(f"{key!r} must be a boolean")
    return value


def _strict_bool(d: Mapping[str, Any], key: str) -> bool:
    if key not in d:
        raise _invalid(f"missing {key!r}")
    return _bool(d, key)


def _enum(enum: type[StrEnum], d: Mapping[str, Any], key: str, *, optional: bool = False) -> Any:
    value = d.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise _invalid(f"{key!r} must be a string")
    try:
        return enum(value)
    except ValueError:
        raise _invalid(f"{key!r} is not a known value") from None


def _sdp(d: Mapping[str, Any]) -> str:
    value: str = _str(d, "sdp", max_chars=MAX_MESSAGE_CHARS)
    return value


def _candidate(d: Mapping[str, Any]) -> IceCandidate | None:
    if "candidate" not in d:
        raise _invalid("missing 'candidate' (use null for end-of-candidates)")
    raw = d["candidate"]
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _invalid("'candidate' must be an object or null")
    return IceCandidate(
        candidate=_str(raw, "candidate", max_chars=MAX_CANDIDATE_CHARS, empty=True),
        sdp_mid=_str(raw, "sdpMid", max_chars=MAX_ID_CHARS, optional=True, empty=True),
        sdp_mline_index=_int(raw, "sdpMLineIndex", optional=True),
        username_fragment=_str(
            raw, "usernameFragment", max_chars=MAX_ID_CHARS, optional=True, empty=True
        ),
    )


def _negotiation(d: Mapping[str, Any]) -> int | None:
    value: int | None = _int(d, "negotiation", optional=True)
    if value is not None and not 1 <= value <= MAX_NEGOTIATION:
        raise _invalid("'negotiation' out of range")
    return value


def _peer_id(d: Mapping[str, Any], key: str, *, optional: bool = False) -> Any:
    return _str(d, key, max_chars=MAX_ID_CHARS, optional=optional)


def _you(raw: Any) -> You:
    if not isinstance(raw, dict):
        raise _invalid("participant must be an object")
    return You(
        id=_peer_id(raw, "id"),
        role=_enum(Role, raw, "role"),
        name=_str(raw, "name", max_chars=256, empty=True),
    )


def _peer_info(raw: Any) -> PeerInfo:
    if not isinstance(raw, dict):
        raise _invalid("peer must be an object")
    return PeerInfo(
        id=_peer_id(raw, "id"),
        role=_enum(Role, raw, "role"),
        name=_str(raw, "name", max_chars=256, empty=True),
        status=_enum(PeerStatus, raw, "status"),
        initiator=_bool(raw, "initiator"),
        language=_str(raw, "language", max_chars=MAX_ID_CHARS, optional=True) or "",
    )


def _waiting_room(raw: Any) -> WaitingRoom:
    if not isinstance(raw, dict):
        raise _invalid("room must be an object")
    return WaitingRoom(
        room=_peer_id(raw, "room"),
        since=_str(raw, "since", max_chars=64),
        participants=tuple(_you(p) for p in _list(raw, "participants")),
    )


def _list(d: Mapping[str, Any], key: str) -> list[Any]:
    value = d.get(key)
    if not isinstance(value, list):
        raise _invalid(f"{key!r} must be a list")
    return value


_Parser: TypeAlias = Callable[[Mapping[str, Any]], Message]

_CLIENT_PARSERS: dict[str, _Parser] = {
    "join": lambda d: Join(
        token=_str(d, "token", max_chars=MAX_TOKEN_CHARS),
        room=_peer_id(d, "room"),
        v=_int(d, "v"),
        role=_enum(Role, d, "role", optional=True),
        resume=_str(d, "resume", max_chars=MAX_ID_CHARS, optional=True),
    ),
    "offer": lambda d: Offer(sdp=_sdp(d), to=_peer_id(d, "to"), negotiation=_negotiation(d)),
    "answer": lambda d: Answer(sdp=_sdp(d), to=_peer_id(d, "to"), negotiation=_negotiation(d)),
    "candidate": lambda d: Candidate(candidate=_candidate(d), to=_peer_id(d, "to")),
    "leave": lambda d: Leave(),
    "end": lambda d: End(),
    "ping": lambda d: Ping(nonce=_str(d, "nonce", max_chars=MAX_NONCE_CHARS, optional=True)),
    "connected": lambda d: Connected(peer=_peer_id(d, "peer", optional=True)),
    "restart-ice": lambda d: RestartIce(peer=_peer_id(d, "peer", optional=True)),
    "transfer": lambda d: Transfer(
        mode=_enum(TransferMode, d, "mode"),
        target=_peer_id(d, "target", optional=True),
        department=_str(d, "department", max_chars=MAX_ID_CHARS, optional=True),
    ),
    "consent-request": lambda d: ConsentRequest(
        purpose=_enum(ConsentPurpose, d, "purpose"), to=_peer_id(d, "to")
    ),
    "consent": lambda d: Consent(
        purpose=_enum(ConsentPurpose, d, "purpose"),
        granted=_strict_bool(d, "granted"),
        to=_peer_id(d, "to"),
    ),
    "document": lambda d: Document(
        url=_str(d, "url", max_chars=MAX_URL_CHARS),
        name=_str(d, "name", max_chars=MAX_NAME_CHARS),
    ),
}

_SERVER_PARSERS: dict[str, _Parser] = {
    "joined": lambda d: Joined(
        room=_peer_id(d, "room"),
        you=_you(d.get("you")),
        state=_enum(RoomState, d, "state"),
        peers=tuple(_peer_info(p) for p in _list(d, "peers")),
        session=_str(d, "session", max_chars=MAX_ID_CHARS),
        resumed=_bool(d, "resumed"),
        grace=_int(d, "grace"),
        v=_int(d, "v"),
    ),
    "peer-joined": lambda d: PeerJoined(peer=_peer_info(d.get("peer"))),
    "peer-left": lambda d: PeerLeft(
        peer=_peer_id(d, "peer"), reason=_enum(LeaveReason, d, "reason")
    ),
    "peer-reconnecting": lambda d: PeerReconnecting(
        peer=_peer_id(d, "peer"), grace=_int(d, "grace")
    ),
    "peer-resumed": lambda d: PeerResumed(
        peer=_peer_id(d, "peer"), initiator=_bool(d, "initiator")
    ),
    "offer": lambda d: Offer(sdp=_sdp(d), from_=_peer_id(d, "from"), negotiation=_negotiation(d)),
    "answer": lambda d: Answer(sdp=_sdp(d), from_=_peer_id(d, "from"), negotiation=_negotiation(d)),
    "candidate": lambda d: Candidate(candidate=_candidate(d), from_=_peer_id(d, "from")),
    "restart-ice": lambda d: RestartIce(peer=_peer_id(d, "peer")),
    "room-state": lambda d: RoomStateChanged(state=_enum(RoomState, d, "state")),
    "waiting": lambda d: Waiting(rooms=tuple(_waiting_room(r) for r in _list(d, "rooms"))),
    "ended": lambda d: Ended(by=_peer_id(d, "by", optional=True)),
    "pong": lambda d: Pong(nonce=_str(d, "nonce", max_chars=MAX_NONCE_CHARS, optional=True)),
    "transfer": lambda d: Transfer(
        mode=_enum(TransferMode, d, "mode"),
        target=_peer_id(d, "target", optional=True),
        department=_str(d, "department", max_chars=MAX_ID_CHARS, optional=True),
        by=_peer_id(d, "by", optional=True),
    ),
    "consent-request": lambda d: ConsentRequest(
        purpose=_enum(ConsentPurpose, d, "purpose"), from_=_peer_id(d, "from")
    ),
    "consent": lambda d: Consent(
        purpose=_enum(ConsentPurpose, d, "purpose"),
        granted=_strict_bool(d, "granted"),
        from_=_peer_id(d, "from"),
    ),
    "document": lambda d: Document(
        url=_str(d, "url", max_chars=MAX_URL_CHARS),
        name=_str(d, "name", max_chars=MAX_NAME_CHARS),
        from_=_peer_id(d, "from"),
    ),
    "error": lambda d: Error(
        code=_enum(ErrorCode, d, "code"),
        message=_str(d, "message", max_chars=1024, empty=True),
        message_ja=_str(d, "message_ja", max_chars=1024, empty=True),
        ref=_str(d, "ref", max_chars=64, optional=True),
    ),
}


def parse(text: str, source: Source = Source.CLIENT) -> Message:
    """Decode and validate one text frame.

    Raises ProtocolError with code ``too-large``, ``bad-json``, ``unknown-type``
    or ``invalid-message``. ``ProtocolError.args[0]`` is a developer-facing
    detail; clients see only the code and the stable text.
    """
    if len(text) > MAX_MESSAGE_CHARS:
        raise ProtocolError(f"{len(text)} characters", code=ErrorCode.TOO_LARGE)
    try:
        # orjson refuses NaN/Infinity (not JSON; no browser sends them) and
        # deep nesting by itself, and is several times faster on the relay path.
        data = orjson.loads(text)
    except (orjson.JSONDecodeError, RecursionError) as exc:
        raise ProtocolError(str(exc)[:200], code=ErrorCode.BAD_JSON) from None
    if not isinstance(data, dict):
        raise ProtocolError("a message must be a JSON object", code=ErrorCode.INVALID_MESSAGE)
    kind = data.get("type")
    parsers = _CLIENT_PARSERS if source is Source.CLIENT else _SERVER_PARSERS
    parser = parsers.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise ProtocolError(f"type {str(kind)[:64]!r}", code=ErrorCode.UNKNOWN_TYPE)
    return parser(data)


# ----------------------------------------------------------------------- serializing


def _wire(message: Message) -> dict[str, Any]:
    match message:
        case Join():
            out: dict[str, Any] = {
                "type": "join",
                "v": message.v,
                "room": message.room,
                "token": message.token,
            }
            if message.role is not None:
                out["role"] = message.role.value
            if message.resume is not None:
                out["resume"] = message.resume
            return out
        case Offer() | Answer() | Candidate():
            out = _negotiation_body(message)
            _address(out, message.to, message.from_)
            return out
        case Leave() | End():
            return {"type": message.type}
        case Ping() | Pong():
            out = {"type": message.type}
            if message.nonce is not None:
                out["nonce"] = message.nonce
            return out
        case Connected() | RestartIce():
            out = {"type": message.type}
            if message.peer is not None:
                out["peer"] = message.peer
            return out
        case Joined():
            return {
                "type": "joined",
                "v": message.v,
                "room": message.room,
                "you": message.you.to_wire(),
                "state": message.state.value,
                "peers": [p.to_wire() for p in message.peers],
                "session": message.session,
                "resumed": message.resumed,
                "grace": message.grace,
            }
        case PeerJoined():
            return {"type": "peer-joined", "peer": message.peer.to_wire()}
        case PeerLeft():
            return {"type": "peer-left", "peer": message.peer, "reason": message.reason.value}
        case PeerReconnecting():
            return {"type": "peer-reconnecting", "peer": message.peer, "grace": message.grace}
        case PeerResumed():
            return {"type": "peer-resumed", "peer": message.peer, "initiator": message.initiator}
        case RoomStateChanged():
            return {"type": "room-state", "state": message.state.value}
        case Waiting():
            return {"type": "waiting", "rooms": [r.to_wire() for r in message.rooms]}
        case Ended():
            return {"type": "ended", "by": message.by}
        case ConsentRequest():
            out = {"type": message.type, "purpose": message.purpose.value}
            _address(out, message.to, message.from_)
            return out
        case Consent():
            out = {"type": message.type, "purpose": message.purpose.value}
            out["granted"] = message.granted
            _address(out, message.to, message.from_)
            return out
        case Document():
            out = {"type": message.type, "url": message.url, "name": message.name}
            _address(out, None, message.from_)
            return out
        case Transfer():
            out = {"type": "transfer", "mode": message.mode.value}
            for key in ("target", "department", "by"):
                value = getattr(message, key)
                if value is not None:
                    out[key] = value
            return out
        case Error():
            out = {
                "type": "error",
                "code": message.code.value,
                "message": message.message,
                "message_ja": message.message_ja,
            }
            if message.ref is not None:
                out["ref"] = message.ref
            return out
    raise TypeError(f"not a signaling message: {message!r}")  # pragma: no cover


def _address(out: dict[str, Any], to: str | None, from_: str | None) -> None:
    if to is not None:
        out["to"] = to
    if from_ is not None:
        out["from"] = from_


def serialize(message: Message) -> str:
    """Encode one message as compact JSON text (UTF-8 kept as is)."""
    return orjson.dumps(_wire(message)).decode()


def _negotiation_body(message: Offer | Answer | Candidate) -> dict[str, Any]:
    """The wire fields of an offer, answer or candidate, before ``to``/``from``.

    Shared by ``_wire`` and the relay's ``relayed_text``, so a field added to
    these messages reaches both.
    """
    if isinstance(message, Candidate):
        cand = None if message.candidate is None else message.candidate.to_wire()
        return {"type": "candidate", "candidate": cand}
    out: dict[str, Any] = {"type": message.type, "sdp": message.sdp}
    if message.negotiation is not None:
        out["negotiation"] = message.negotiation
    return out


def relayed_text(message: Offer | Answer | Candidate, from_: str) -> str:
    """``serialize(replace(message, to=None, from_=from_))``, without the copy.

    Relaying is nearly all a signaling server does, so this skips the
    dataclass copy and the generic match of ``_wire``; a test checks the two
    agree.
    """
    out = _negotiation_body(message)
    out["from"] = from_
    return orjson.dumps(out).decode()
