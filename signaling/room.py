"""Rooms, seats and the room state machine (plain data; no I/O, no clock).

A room is ``WAITING`` until a staff member holds a seat, then ``ACTIVE``;
``ACTIVE`` returns to ``WAITING`` when staff leave without ending (a handover),
and ``ENDED`` is terminal. Illegal moves raise ``InvalidState`` naming the
current state, like websockets' protocol does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from signaling.bus import SeatRecord
from signaling.errors import InvalidState
from signaling.messages import PeerInfo, Role, RoomState, You

ConnId = int

# Who initiates (sends the offer, the "impolite" peer) between two participants:
# the better-ranked role, then the smaller participant id. Staff rank first so a
# resident's page only ever answers, which keeps the browser side simple.
ROLE_RANK: Final[Mapping[Role, int]] = MappingProxyType(
    {Role.STAFF: 0, Role.INTERPRETER: 1, Role.OBSERVER: 2, Role.KIOSK: 3, Role.RESIDENT: 3}
)

DEFAULT_SEAT_GROUPS: Final[Mapping[Role, str]] = MappingProxyType(
    {
        Role.RESIDENT: "visitor",
        Role.KIOSK: "visitor",  # a kiosk *is* the resident's seat at a branch
        Role.STAFF: "staff",
        Role.INTERPRETER: "interpreter",
        Role.OBSERVER: "observer",
    }
)
# A staff member joining with a hand-over ticket takes the "handover" seat, so
# during a warm hand-over two staff are briefly present; ordinary staff tickets
# still find one staff seat.
HANDOVER_GROUP: Final = "handover"
DEFAULT_SEATS: Final[Mapping[str, int]] = MappingProxyType(
    {"visitor": 1, "staff": 1, "interpreter": 1, "observer": 1, HANDOVER_GROUP: 1}
)
VISITOR_ROLES: Final = frozenset({Role.RESIDENT, Role.KIOSK})
# Roles listed to staff as "waiting" while no staff member is in the room.
WAITING_ROLES: Final = frozenset({Role.RESIDENT, Role.KIOSK, Role.INTERPRETER})

_TRANSITIONS: Final[Mapping[RoomState, frozenset[RoomState]]] = MappingProxyType(
    {
        RoomState.WAITING: frozenset({RoomState.ACTIVE, RoomState.ENDED}),
        RoomState.ACTIVE: frozenset({RoomState.WAITING, RoomState.ENDED}),
        RoomState.ENDED: frozenset(),
    }
)


def seat_group(role: Role, handover: bool, groups: Mapping[Role, str]) -> str:
    """The seat group a participant counts against (hand-over staff have their own)."""
    return HANDOVER_GROUP if handover and role is Role.STAFF else groups[role]


def initiator_of(a: SeatRecord, b: SeatRecord) -> str:
    """Participant id of the side that sends the offer between ``a`` and ``b``."""
    return min((ROLE_RANK[a.role], a.pid), (ROLE_RANK[b.role], b.pid))[1]


def peer_info(seat: SeatRecord, viewer: SeatRecord) -> PeerInfo:
    return PeerInfo(
        id=seat.pid,
        role=seat.role,
        name=seat.name,
        status=seat.status,
        initiator=initiator_of(seat, viewer) == viewer.pid,
        language=seat.language,
    )


def you(seat: SeatRecord) -> You:
    return You(id=seat.pid, role=seat.role, name=seat.name)


def seat_order(seat: SeatRecord) -> tuple[float, str, str]:
    """Order deciding who keeps a seat when two nodes filled it at once."""
    return (seat.since, seat.node, seat.pid)


@dataclass(slots=True)
class Room:
    id: str
    state: RoomState = RoomState.WAITING
    seats: dict[str, SeatRecord] = field(default_factory=dict)
    # participant id -> local connection, for seats whose socket is on this node
    local: dict[str, ConnId] = field(default_factory=dict)
    started: bool = False  # call-start seen (both sides connected)

    def transition(self, new: RoomState) -> None:
        if new not in _TRANSITIONS[self.state]:
            raise InvalidState(f"room {self.id} is {self.state.value}; cannot become {new.value}")
        self.state = new

    def settled_state(self) -> RoomState:
        """The state the seats call for (ENDED is set explicitly, never derived)."""
        if any(s.role is Role.STAFF for s in self.seats.values()):
            return RoomState.ACTIVE
        return RoomState.WAITING

    def group_members(self, group: str, groups: Mapping[Role, str]) -> list[SeatRecord]:
        return [s for s in self.seats.values() if seat_group(s.role, s.handover, groups) == group]

    def call_ready(self) -> bool:
        """Both a visitor and a staff member reported ``connected``."""
        visitor = any(s.connected for s in self.seats.values() if s.role in VISITOR_ROLES)
        staff = any(s.connected for s in self.seats.values() if s.role is Role.STAFF)
        return visitor and staff
