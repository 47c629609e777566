"""Exceptions of the signaling package, and the stable codes shown to clients.

The whole tree::

    SignalingError                  base; ``code`` is a stable ErrorCode
    ├── ProtocolError               a client message is unusable (bad JSON, unknown
    │                               type, schema violation, too large, ...). The core
    │                               answers with an ``error`` frame and carries on,
    │                               unless the code is fatal (see FATAL_CLOSE_CODES).
    ├── AuthError                   a ``join`` is refused: token-invalid,
    │                               token-expired, token-not-yet-valid, wrong-room,
    │                               wrong-role. Raised by the injected authenticator.
    ├── AdmissionError              the token is fine but the room says no:
    │                               room-full, room-ended.
    ├── InvalidState                an illegal room state transition; names the
    │                               current state. A bug, never a client's fault.
    └── BusError                    the message bus or shared store failed.

Error codes are part of the wire protocol (docs/signaling.md): never rename one.
Fatal codes close the connection with a 4000-range WebSocket close code; any
4xxx close means "do not reconnect automatically", while 1001/1006/1011/1012
mean "reconnect and resume".
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    BAD_JSON = "bad-json"
    UNKNOWN_TYPE = "unknown-type"
    INVALID_MESSAGE = "invalid-message"
    TOO_LARGE = "too-large"
    BINARY_NOT_SUPPORTED = "binary-not-supported"
    RATE_LIMITED = "rate-limited"
    NOT_JOINED = "not-joined"
    ALREADY_JOINED = "already-joined"
    UNKNOWN_PEER = "unknown-peer"
    FORBIDDEN = "forbidden"
    UNSUPPORTED_VERSION = "unsupported-version"
    TOKEN_INVALID = "token-invalid"  # noqa: S105 - an error code, not a secret
    TOKEN_EXPIRED = "token-expired"  # noqa: S105 - an error code, not a secret
    TOKEN_NOT_YET_VALID = "token-not-yet-valid"  # noqa: S105 - an error code, not a secret
    WRONG_ROOM = "wrong-room"
    WRONG_ROLE = "wrong-role"
    ROOM_FULL = "room-full"
    ROOM_ENDED = "room-ended"
    JOIN_TIMEOUT = "join-timeout"
    REPLACED = "replaced"
    ABUSE = "abuse"
    INTERNAL = "internal"


class CloseCode:
    """WebSocket close codes used by the server (RFC 6455 + private 4000 range)."""

    NORMAL = 1000  # after `leave`
    GOING_AWAY = 1001
    INVALID_DATA = 1007  # a text frame that is not UTF-8
    POLICY_VIOLATION = 1008  # repeated abuse: too many errors in a short window
    MESSAGE_TOO_BIG = 1009  # frame above the transport limit (see docs)
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012  # graceful shutdown: reconnect (to another node) and resume
    TRY_AGAIN_LATER = 1013  # too many new or unjoined connections from one address
    TOKEN_INVALID = 4001
    TOKEN_EXPIRED = 4002
    TOKEN_NOT_YET_VALID = 4003
    WRONG_ROOM = 4004
    WRONG_ROLE = 4005
    ROOM_FULL = 4006
    ROOM_ENDED = 4007
    JOIN_TIMEOUT = 4008
    REPLACED = 4009
    CALL_ENDED = 4010  # the staff member ended the call; do not reconnect
    UNSUPPORTED_VERSION = 4011


# Errors that end the connection, and the close code each uses.
FATAL_CLOSE_CODES: dict[ErrorCode, int] = {
    ErrorCode.TOKEN_INVALID: CloseCode.TOKEN_INVALID,
    ErrorCode.TOKEN_EXPIRED: CloseCode.TOKEN_EXPIRED,
    ErrorCode.TOKEN_NOT_YET_VALID: CloseCode.TOKEN_NOT_YET_VALID,
    ErrorCode.WRONG_ROOM: CloseCode.WRONG_ROOM,
    ErrorCode.WRONG_ROLE: CloseCode.WRONG_ROLE,
    ErrorCode.ROOM_FULL: CloseCode.ROOM_FULL,
    ErrorCode.ROOM_ENDED: CloseCode.ROOM_ENDED,
    ErrorCode.JOIN_TIMEOUT: CloseCode.JOIN_TIMEOUT,
    ErrorCode.REPLACED: CloseCode.REPLACED,
    ErrorCode.UNSUPPORTED_VERSION: CloseCode.UNSUPPORTED_VERSION,
    ErrorCode.ABUSE: CloseCode.POLICY_VIOLATION,
}

# Human text per code: (English, Japanese). Shown to residents, so plain words.
ERROR_TEXT: dict[ErrorCode, tuple[str, str]] = {
    ErrorCode.BAD_JSON: (
        "The message is not valid JSON.",
        "メッセージの形式が正しくありません。",
    ),
    ErrorCode.UNKNOWN_TYPE: (
        "Unknown message type.",
        "不明なメッセージの種類です。",
    ),
    ErrorCode.INVALID_MESSAGE: (
        "The message is missing a field or has a wrong value.",
        "メッセージの内容が正しくありません。",
    ),
    ErrorCode.TOO_LARGE: (
        "The message is too large.",
        "メッセージが大きすぎます。",
    ),
    ErrorCode.BINARY_NOT_SUPPORTED: (
        "Binary messages are not supported; send JSON text.",
        "バイナリ形式のメッセージには対応していません。",
    ),
    ErrorCode.RATE_LIMITED: (
        "Too many messages; slow down.",
        "メッセージの送信が多すぎます。しばらくお待ちください。",
    ),
    ErrorCode.NOT_JOINED: (
        "Join a room first.",
        "先にルームに参加してください。",
    ),
    ErrorCode.ALREADY_JOINED: (
        "This connection has already joined a room.",
        "この接続はすでにルームに参加しています。",
    ),
    ErrorCode.UNKNOWN_PEER: (
        "That participant is not in this room.",
        "その参加者はこのルームにいません。",
    ),
    ErrorCode.FORBIDDEN: (
        "Your role may not do this.",
        "この操作は許可されていません。",
    ),
    ErrorCode.UNSUPPORTED_VERSION: (
        "Unsupported protocol version.",
        "対応していないプロトコルのバージョンです。",
    ),
    ErrorCode.TOKEN_INVALID: (
        "This link is not valid.",
        "このリンクは無効です。",
    ),
    ErrorCode.TOKEN_EXPIRED: (
        "This link has expired.",
        "このリンクの有効期限が切れています。",
    ),
    ErrorCode.TOKEN_NOT_YET_VALID: (
        "This link is not open yet. Please try again closer to your appointment.",
        "このリンクはまだ使えません。予約時刻の近くにもう一度お試しください。",
    ),
    ErrorCode.WRONG_ROOM: (
        "This link is for a different consultation.",
        "このリンクは別の相談のものです。",
    ),
    ErrorCode.WRONG_ROLE: (
        "This link does not allow that role.",
        "このリンクではその役割で参加できません。",
    ),
    ErrorCode.ROOM_FULL: (
        "Someone is already connected with this role.",
        "この役割の参加者はすでに接続しています。",
    ),
    ErrorCode.ROOM_ENDED: (
        "This consultation has ended.",
        "この相談は終了しました。",
    ),
    ErrorCode.JOIN_TIMEOUT: (
        "No join message was received in time.",
        "参加の手続きが時間内に行われませんでした。",
    ),
    ErrorCode.REPLACED: (
        "You connected again from another window or device.",
        "別の画面または端末から再接続されました。",
    ),
    ErrorCode.ABUSE: (
        "Too many invalid messages; the connection is closed.",
        "不正なメッセージが多すぎるため、接続を終了しました。",
    ),
    ErrorCode.INTERNAL: (
        "Internal server error.",
        "サーバーで問題が発生しました。",
    ),
}


class SignalingError(Exception):
    """Base of all signaling failures; ``code`` is stable and shown to clients."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str = "", *, code: ErrorCode | None = None) -> None:
        if code is not None:
            self.code = code
        super().__init__(message or ERROR_TEXT[self.code][0])

    @property
    def fatal(self) -> bool:
        return self.code in FATAL_CLOSE_CODES


class ProtocolError(SignalingError):
    """A client message is unusable; answered with an ``error`` frame."""

    code = ErrorCode.INVALID_MESSAGE


class AuthError(SignalingError):
    """A join token is refused; always fatal for the connection."""

    code = ErrorCode.TOKEN_INVALID


class AdmissionError(SignalingError):
    """The token is valid but the room refuses the participant."""

    code = ErrorCode.ROOM_FULL


class InvalidState(SignalingError):
    """An illegal room state transition (a bug in the caller, not the client)."""

    code = ErrorCode.INTERNAL


class BusError(SignalingError):
    """The message bus or the shared room store failed."""

    code = ErrorCode.INTERNAL
