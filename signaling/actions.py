"""What the sans-I/O core takes in (config, authentication) and gives out (actions).

The server performs actions in order: ``Send``/``SendText`` a frame to a local
connection, ``Close`` it, ``Record`` a call event (flushed before continuing
after a ``call-end``), ``Publish`` a bus event to the other nodes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from signaling.bus import ENDED_MEMORY_SECONDS, BusEvent
from signaling.events import CallEvent
from signaling.messages import Role, ServerMessage
from signaling.room import DEFAULT_SEAT_GROUPS, DEFAULT_SEATS, ConnId, seat_group


@dataclass(frozen=True, slots=True)
class Send:
    conn: ConnId
    message: ServerMessage


@dataclass(frozen=True, slots=True)
class SendText:
    """A frame already serialized elsewhere (a relay delivered over the bus)."""

    conn: ConnId
    text: str


@dataclass(frozen=True, slots=True)
class Close:
    conn: ConnId
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Record:
    event: CallEvent


@dataclass(frozen=True, slots=True)
class Publish:
    event: BusEvent


Action = Send | SendText | Close | Record | Publish


@dataclass(frozen=True, slots=True)
class Admission:
    room: str
    role: Role
    participant_id: str
    display_name: str
    # A staff hand-over ticket: may take the one extra staff seat of a room, so
    # the next staff member can join while the first is still there (warm).
    handover: bool = False
    # The language an interpreter interprets (``jsl``: sign language), so the
    # visitor's screen can lay a signer out beside the staff member.
    language: str = ""


# Raises signaling.errors.AuthError (with its code) when the token is refused.
Authenticate = Callable[[str, datetime], Admission]

# Whether the token of a pushed document link (``Document.token``) is one the
# app signed and that is still valid at ``now``.
VerifyDocument = Callable[[str, datetime], bool]


@dataclass(frozen=True, slots=True)
class CoreConfig:
    grace_seconds: float = 30.0
    join_timeout: float = 10.0
    rate: float = 50.0  # messages per second per connection
    burst: float = 100.0
    abuse_errors: int = 20  # this many errors ...
    abuse_window: float = 10.0  # ... within this many seconds close the connection
    heartbeat_interval: float = 5.0
    node_timeout: float = 15.0  # a node silent this long is dead
    # How long an ended room is remembered (and refused). Longer than any join
    # token outlives its call (slot end plus grace, hand-over tickets 2 h), so
    # a forgotten room can only be entered with a token that expired long ago;
    # without a limit every node and Redis kept every room ever ended.
    ended_memory: float = ENDED_MEMORY_SECONDS
    # Per client address (docs/security.md, "Signaling connections"): at most
    # this many connections not joined yet at once, and new connections at this
    # rate with this burst; over either, a new socket is closed with 1013 (try
    # again later). Sized for one NAT address in front of a city hall's staff
    # consoles or a branch office's kiosks reconnecting at once after a restart.
    unjoined_per_address: int = 200
    connections_per_address_rate: float = 50.0  # per second
    connections_per_address_burst: float = 500.0
    exempt_addresses: frozenset[str] = frozenset()
    seat_groups: Mapping[Role, str] = field(default_factory=lambda: dict(DEFAULT_SEAT_GROUPS))
    seats: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_SEATS))

    def group_of(self, role: Role, *, handover: bool = False) -> str:
        return seat_group(role, handover, self.seat_groups)
