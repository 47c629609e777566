"""The sans-I/O core: feed events, assert the actions (no sockets, no clock)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest

from signaling.actions import VerifyDocument
from signaling.bus import DeliverEvent, EndedEvent, HeartbeatEvent, SeatEvent
from signaling.core import (
    Action,
    Admission,
    Close,
    CoreConfig,
    Publish,
    Record,
    Send,
    SendText,
    SignalingCore,
)
from signaling.errors import AuthError, CloseCode, ErrorCode, InvalidState
from signaling.events import EventKind
from signaling.messages import (
    Answer,
    Ended,
    Error,
    Joined,
    LeaveReason,
    Offer,
    PeerJoined,
    PeerLeft,
    PeerReconnecting,
    PeerResumed,
    PeerStatus,
    Pong,
    RestartIce,
    Role,
    RoomState,
    RoomStateChanged,
    Source,
    Waiting,
    parse,
    serialize,
)
from signaling.room import Room

T0 = datetime(2026, 1, 6, 1, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


TOKENS = {
    "res": Admission("r1", Role.RESIDENT, "res-1", "山田"),
    "res-b": Admission("r1", Role.RESIDENT, "res-2", "佐藤"),
    "kiosk": Admission("r1", Role.KIOSK, "kiosk-1", "支所"),
    "staff": Admission("r1", Role.STAFF, "staff-1", "田中"),
    "staff-b": Admission("r1", Role.STAFF, "staff-2", "鈴木"),
    "interp": Admission("r1", Role.INTERPRETER, "int-1", "通訳"),
    "other": Admission("r2", Role.RESIDENT, "res-9", "他"),
    "lobby": Admission("@lobby", Role.STAFF, "staff-1", "田中"),
}


def fake_auth(token: str, now: datetime) -> Admission:
    if token == "expired":
        raise AuthError(code=ErrorCode.TOKEN_EXPIRED)
    try:
        return TOKENS[token]
    except KeyError:
        raise AuthError(code=ErrorCode.TOKEN_INVALID) from None


def make_core(
    node: str = "n1", verify_document: VerifyDocument | None = None, **config: object
) -> SignalingCore:
    counter = itertools.count(1)
    return SignalingCore(
        node=node,
        authenticate=fake_auth,
        config=CoreConfig(**config),  # type: ignore[arg-type]
        new_session_id=lambda: f"{node}-s{next(counter)}",
        verify_document=verify_document,
    )


def join(token: str, room: str = "r1", **extra: object) -> str:
    return json.dumps({"type": "join", "v": 1, "room": room, "token": token, **extra})


def sent(actions: list[Action], conn: int) -> list[object]:
    """Messages for ``conn``; pre-encoded frames (relays) are decoded as a client would."""
    return [
        a.message if isinstance(a, Send) else parse(a.text, Source.SERVER)
        for a in actions
        if isinstance(a, Send | SendText) and a.conn == conn
    ]


def closes(actions: list[Action]) -> dict[int, int]:
    return {a.conn: a.code for a in actions if isinstance(a, Close)}


def records(actions: list[Action]) -> list[EventKind]:
    return [a.event.kind for a in actions if isinstance(a, Record)]


def errors(actions: list[Action], conn: int) -> list[ErrorCode]:
    return [m.code for m in sent(actions, conn) if isinstance(m, Error)]


def connect_join(
    core: SignalingCore, conn: int, token: str, t: float = 0, **kw: object
) -> list[Action]:
    core.connect(conn, at(t))
    return core.receive(conn, join(token, **kw), at(t))


def test_resident_waits_then_staff_joins_and_is_the_initiator() -> None:
    core = make_core()
    out = connect_join(core, 1, "res")
    (joined,) = sent(out, 1)
    assert isinstance(joined, Joined)
    assert joined.state is RoomState.WAITING and joined.peers == ()
    assert joined.session == "n1-s1" and joined.you.role is Role.RESIDENT
    assert records(out) == [EventKind.JOIN]
    assert any(isinstance(a, Publish) and isinstance(a.event, SeatEvent) for a in out)

    out = connect_join(core, 2, "staff", t=5)
    (staff_joined,) = sent(out, 2)
    assert isinstance(staff_joined, Joined) and staff_joined.state is RoomState.ACTIVE
    (peer,) = staff_joined.peers
    assert (peer.id, peer.initiator) == ("res-1", True)
    to_resident = sent(out, 1)
    assert isinstance(to_resident[0], PeerJoined)
    assert to_resident[0].peer.id == "staff-1" and to_resident[0].peer.initiator is False
    assert to_resident[1] == RoomStateChanged(state=RoomState.ACTIVE)


def test_offer_answer_candidate_are_relayed_with_from() -> None:
    core = make_core()
    connect_join(core, 1, "res")
    connect_join(core, 2, "staff")
    offer = {"type": "offer", "to": "res-1", "sdp": "v=0\r\n"}
    out = core.receive(2, json.dumps(offer), at(1))
    assert sent(out, 1) == [Offer(sdp="v=0\r\n", from_="staff-1")]
    cand = {"type": "candidate", "to": "staff-1", "candidate": None}
    out = core.receive(1, json.dumps(cand), at(1))
    (relayed,) = sent(out, 2)
    assert relayed.from_ == "res-1" and relayed.candidate is None  # type: ignore[attr-defined]


def test_negotiation_ids_are_relayed_with_offer_and_answer() -> None:
    core = make_core()
    connect_join(core, 1, "res")
    connect_join(core, 2, "staff")
    offer = {"type": "offer", "to": "res-1", "sdp": "v=0\r\n", "negotiation": 2**53 - 1}
    out = core.receive(2, json.dumps(offer), at(1))
    assert sent(out, 1) == [Offer(sdp="v=0\r\n", from_="staff-1", negotiation=2**53 - 1)]
    answer = {"type": "answer", "to": "staff-1", "sdp": "v=0\r\n", "negotiation": 7}
    out = core.receive(1, json.dumps(answer), at(1))
    assert sent(out, 2) == [Answer(sdp="v=0\r\n", from_="res-1", negotiation=7)]
    # On the wire to the receiver, as a browser reads it.
    wire = json.loads(serialize(Answer(sdp="x", from_="res-1", negotiation=7)))
    assert wire == {"type": "answer", "sdp": "x", "from": "res-1", "negotiation": 7}
    assert "negotiation" not in json.loads(serialize(Offer(sdp="x", from_="staff-1")))


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", ErrorCode.BAD_JSON),
        ('{"type":"dance"}', ErrorCode.UNKNOWN_TYPE),
        ('{"type":"offer","to":"staff-1"}', ErrorCode.INVALID_MESSAGE),
        ('{"type":"offer","to":"staff-1","sdp":"x","negotiation":0}', ErrorCode.INVALID_MESSAGE),
        ('{"type":"answer","to":"staff-1","sdp":"x","negotiation":"7"}', ErrorCode.INVALID_MESSAGE),
        (
            '{"type":"offer","to":"staff-1","sdp":"x","negotiation":9007199254740992}',
            ErrorCode.INVALID_MESSAGE,
        ),
        ('{"type":"offer","to":"staff-1","sdp":"x","negotiation":true}', ErrorCode.INVALID_MESSAGE),
        ('{"type":"offer","to":"staff-1","sdp":"' + "a" * 70_000 + '"}', ErrorCode.TOO_LARGE),
        ('{"type":"candidate","to":"ghost","candidate":null}', ErrorCode.UNKNOWN_PEER),
        ('{"type":"end"}', ErrorCode.FORBIDDEN),
        ("[1,2]", ErrorCode.INVALID_MESSAGE),
        ('{"type":"join","v":1,"room":"r1","token":"res"}', ErrorCode.ALREADY_JOINED),
    ],
)
def test_bad_messages_get_an_error_and_the_connection_carries_on(
    text: str, code: ErrorCode
) -> None:
    core = make_core()
    connect_join(core, 1, "res")
    connect_join(core, 2, "staff")
    out = core.receive(1, text, at(1))
    assert errors(out, 1) == [code]
    assert closes(out) == {}
    relay = core.receive(1, json.dumps({"type": "offer", "to": "staff-1", "sdp": "x"}), at(1))
    assert sent(relay, 2) == [Offer(sdp="x", from_="res-1")]


def test_binary_frames_are_refused_politely() -> None:
    core = make_core()
    connect_join(core, 1, "res")
    out = core.receive(1, b"\x00\x01", at(1))
    assert errors(out, 1) == [ErrorCode.BINARY_NOT_SUPPORTED] and closes(out) == {}


def test_messages_before_join_are_not_joined_but_ping_works() -> None:
    core = make_core()
    core.connect(1, at(0))
    assert errors(core.receive(1, '{"type":"leave"}', at(0)), 1) == [ErrorCode.NOT_JOINED]
    assert sent(core.receive(1, '{"type":"ping","nonce":"7"}', at(0)), 1) == [Pong(nonce="7")]


def test_repeated_errors_close_only_that_connection() -> None:
    core = make_core()
    connect_join(core, 1, "res")
    connect_join(core, 2, "staff")
    outs: list[Action] = []
    for i in range(20):
        outs += core.receive(1, "garbage", at(1 + i * 0.1))
    assert closes(outs) == {1: CloseCode.POLICY_VIOLATION}
    assert errors(outs, 1)[-1] is ErrorCode.ABUSE
    assert core.receive(1, "garbage", at(3)) == []  # closing: ignored
    out = core.receive(2, json.dumps({"type": "ping"}), at(3))
    assert sent(out, 2) == [Pong()]


def test_rate_limit_drops_messages_over_the_bucket() -> None:
    core = make_core(rate=1.0, burst=3.0, abuse_errors=100)
    connect_join(core, 1, "res")  # uses one token
    outs = [core.receive(1, '{"type":"ping"}', at(0)) for _ in range(4)]
    assert [errors(o, 1) for o in outs] == [
        [],
        [],
        [ErrorCode.RATE_LIMITED],
        [ErrorCode.RATE_LIMITED],
    ]
    assert sent(core.receive(1, '{"type":"ping"}', at(1)), 1) == [Pong()]


@pytest.mark.parametrize(
    ("token", "room", "extra", "code", "close"),
    [
        ("forged", "r1", {}, ErrorCode.TOKEN_INVALID, CloseCode.TOKEN_INVALID),
        ("expired", "r1", {}, ErrorCode.TOKEN_EXPIRED, CloseCode.TOKEN_EXPIRED),
        ("other", "r1", {}, ErrorCode.WRONG_ROOM, CloseCode.WRONG_ROOM),
        ("res", "r1", {"role": "staff"}, ErrorCode.WRONG_ROLE, CloseCode.WRONG_ROLE),
        ("res", "r1", {"v": 9}, ErrorCode.UNSUPPORTED_VERSION, CloseCode.UNSUPPORTED_VERSION),
    ],
)
def test_refused_joins_close_with_the_documented_code(
    token: str, room: str, extra: dict[str, object], code: ErrorCode, close: int
) -> None:
    core = make_core()
    out = connect_join(core, 1, token, room=room, **extra)
    assert errors(out, 1) == [code] and closes(out) == {1: close}
    assert core.room("r1") is None


def test_capacity_per_role_group() -> None:
    core = make_core()
    connect_join(core, 1, "res")
    for conn, token in [(2, "res-b"), (3, "kiosk")]:
        out = connect_join(core, conn, token)
        assert errors(out, conn) == [ErrorCode.ROOM_FULL]
        assert closes(out) == {conn: CloseCode.ROOM_FULL}
    assert errors(connect_join(core, 4, "interp"), 4) == []
    assert errors(connect_join(core, 5, "staff"), 5) == []
    assert errors(connect_join(core, 6, "staff-b"), 6) == [ErrorCode.ROOM_FULL]


def test_end_by_staff_ends_the_room_and_refuses_rejoin() -> None:
    core = make_core()
    connect_join(core, 1, "res")
    connect_join(core, 2, "staff")
    out = core.receive(2, '{"type":"end"}', at(10))
    assert records(out)[0] is EventKind.CALL_END  # recorded before anyone is told
    first_send = next(i for i, a in enumerate(out) if isinstance(a, Send))
    assert all(not isinstance(a, Record) for a in out[first_send:])
    assert Ended(by="staff-1") in sent(out, 1) and Ended(by="staff-1") in sent(out, 2)
    assert closes(out) == {1: CloseCode.CALL_ENDED, 2: CloseCode.CALL_ENDED}
    assert any(isinstance(a, Publish) and isinstance(a.event, EndedEvent) for a in out)
    for conn, token in [(3, "res"), (4, "staff")]:
        again = connect_join(core, conn, token, t=11)
        assert errors(again, conn) == [ErrorCode.ROOM_ENDED]
        assert closes(again) == {conn: CloseCode.ROOM_ENDED}


def test_ended_rooms_given_at_start_are_refused() -> None:
    core = SignalingCore(node="n1", authenticate=fake_auth, ended_rooms={"r1"})
    out = connect_join(core, 1, "res")
    assert errors(out, 1) == [ErrorCode.ROOM_ENDED]


def test_an_ended_room_is_remembered_for_ended_memory_then_forgotten() -> None:
    """Every node keeps ended rooms; without a limit they would pile up for
    ever. After ``ended_memory`` (longer than any token outlives its call) the
    room is forgotten, and only a token could still admit to it."""
    core = make_core(ended_memory=3600)
    connect_join(core, 1, "res")
    connect_join(core, 2, "staff")
    core.receive(2, '{"type":"end"}', at(10))
    core.tick(at(100))
    assert core.is_ended("r1")
    core.tick(at(3609))  # ended 3,599 s ago
    assert core.is_ended("r1")
    core.tick(at(3615))  # past the memory, but the last sweep was 6 s ago
    assert core.is_ended("r1")
    core.tick(at(3670))
    assert not core.is_ended("r1")


def test_ended_rooms_loaded_at_start_are_kept_for_ended_memory_from_the_first_tick() -> None:
    core = SignalingCore(
        node="n1",
        authenticate=fake_auth,
        config=CoreConfig(ended_memory=3600),
        ended_rooms={"r1"},
    )
    core.tick(at(0))
    core.tick(at(3599))
    assert core.is_ended("r1")
    core.tick(at(3601 + 60))
    assert not core.is_ended("r1")


def test_drop_then_resume_within_grace_asks_the_initiator_for_ice_restart() -> None:
    core = make_core()
    connect_join(core, 1, "res")
    connect_join(core, 2, "staff")
    out = core.disconnect(1, at(3))
    assert sent(out, 2) == [PeerReconnecting(peer="res-1", grace=30)]
    assert records(out) == [EventKind.RECONNECTING]
    out = connect_join(core, 3, "res", t=20, resume="n1-s1")
    (joined,) = sent(out, 3)
    assert isinstance(joined, Joined) and joined.resumed and joined.session == "n1-s1"
    assert sent(out, 2) == [PeerResumed(peer="res-1", initiator=True)]
    assert records(out) == [EventKind.RESUMED]
    assert core.tick(at(40)) == [Publish(HeartbeatEvent(node="n1"))]  # grace no longer runs


def test_resumed_initiator_gets_restart_ice() -> None:
    core = make_core()
    connect_join(core, 1, "res")
    connect_join(core, 2, "staff")
    core.disconnect(2, at(1))
    out = connect_join(core, 3, "staff", t=2, resume="n1-s2")
    assert sent(out, 3)[1:] == [RestartIce(peer="res-1")]
    assert sent(out, 1) == [PeerResumed(peer="staff-1", initiator=False)]


def test_grace_expiry_releases_the_seat() -> None:
    core = make_core()
    connect_join(core, 1, "res")
    connect_join(core, 2, "staff")
    core.disconnect(1, at(3))
    assert [a for a in core.tick(at(32.9)) if not isinstance(a, Publish)] == []
    out = core.tick(at(33))
    assert sent(out, 2) == [PeerLeft(peer="res-1", reason=LeaveReason.TIMEOUT)]
    assert records(out) == [EventKind.LEAVE]
    room = core.room("r1")
    assert room is not None and set(room.seats) == {"staff-1"}


def test_join_without_resume_replaces_the_old_socket() -> None:
    core = make_core()
    connect_join(core, 1, "res")
    connect_join(core, 2, "staff")
    out = connect_join(core, 3, "res", t=1)
    assert closes(out) == {1: CloseCode.REPLACED}
    assert sent(out, 2) == [
        PeerLeft(peer="res-1", reason=LeaveReason.REPLACED),
        PeerJoined(peer=sent(out, 2)[1].peer),  # type: ignore[attr-defined]
    ]
    assert core.disconnect(1, at(2)) == []  # the old socket closing changes nothing


def test_leave_releases_at_once_and_staff_leaving_returns_to_waiting() -> None:
    core = make_core()
    connect_join(core, 1, "res")
    connect_join(core, 2, "staff")
    out = core.receive(2, '{"type":"leave"}', at(5))
    assert sent(out, 1) == [
        PeerLeft(peer="staff-1", reason=LeaveReason.LEFT),
        RoomStateChanged(state=RoomState.WAITING),
    ]
    assert closes(out) == {2: CloseCode.NORMAL}
    assert records(out) == [EventKind.LEAVE]


def test_call_start_needs_both_sides_connected() -> None:
    core = make_core()
    connect_join(core, 1, "res")
    connect_join(core, 2, "staff")
    assert records(core.receive(1, '{"type":"connected","peer":"staff-1"}', at(5))) == []
    assert records(core.receive(2, '{"type":"connected"}', at(6))) == [EventKind.CALL_START]
    assert records(core.receive(2, '{"type":"connected"}', at(7))) == []


def test_restart_ice_request_goes_to_the_initiator() -> None:
    core = make_core()
    connect_join(core, 1, "res")
    connect_join(core, 2, "staff")
    out = core.receive(1, '{"type":"restart-ice"}', at(5))
    assert sent(out, 2) == [RestartIce(peer="res-1")] and sent(out, 1) == []
    out = core.receive(2, '{"type":"restart-ice","peer":"res-1"}', at(5))
    assert sent(out, 2) == [RestartIce(peer="res-1")]


def test_join_timeout() -> None:
    core = make_core()
    core.connect(1, at(0))
    assert closes(core.tick(at(9))) == {}
    out = core.tick(at(10))
    assert errors(out, 1) == [ErrorCode.JOIN_TIMEOUT] and closes(out) == {1: CloseCode.JOIN_TIMEOUT}


def test_lobby_sees_waiting_rooms() -> None:
    core = make_core()
    out = connect_join(core, 9, "lobby", room="@lobby")
    assert sent(out, 9)[1] == Waiting(rooms=())
    out = connect_join(core, 1, "res", t=2)
    (waiting,) = sent(out, 9)
    assert isinstance(waiting, Waiting)
    assert [(r.room, [p.id for p in r.participants]) for r in waiting.rooms] == [("r1", ["res-1"])]
    out = connect_join(core, 2, "staff", t=3)
    assert sent(out, 9) == [Waiting(rooms=())]
    assert errors(core.receive(9, '{"type":"end"}', at(4)), 9) == [ErrorCode.FORBIDDEN]
    # A resident token cannot open the lobby.
    out = connect_join(core, 10, "res", room="r1")
    assert errors(out, 10) == []


def test_state_machine_refuses_leaving_ended() -> None:
    room = Room(id="r1")
    room.transition(RoomState.ACTIVE)
    room.transition(RoomState.ENDED)
    with pytest.raises(InvalidState, match="r1 is ended"):
        room.transition(RoomState.WAITING)


# ------------------------------------------------------------------ two cores


def wire(a: SignalingCore, b: SignalingCore, actions: list[Action], now: datetime) -> list[Action]:
    """Deliver a's Publish actions to b (what the bus does), returning b's actions."""
    out: list[Action] = []
    for action in actions:
        if isinstance(action, Publish):
            out += b.remote(action.event, now)
    return out


def test_two_nodes_relay_through_the_bus() -> None:
    n1, n2 = make_core("n1"), make_core("n2")
    out = connect_join(n1, 1, "res")
    assert wire(n1, n2, out, at(0)) == []
    out = connect_join(n2, 2, "staff")
    (joined,) = sent(out, 2)
    assert isinstance(joined, Joined) and [p.id for p in joined.peers] == ["res-1"]
    back = wire(n2, n1, out, at(0))
    assert isinstance(sent(back, 1)[0], PeerJoined)
    out = n2.receive(2, json.dumps({"type": "offer", "to": "res-1", "sdp": "v=0"}), at(1))
    (pub,) = [a for a in out if isinstance(a, Publish)]
    assert isinstance(pub.event, DeliverEvent) and pub.event.target == "n1"
    delivered = wire(n2, n1, out, at(1))
    assert delivered == [SendText(1, '{"type":"offer","sdp":"v=0","from":"staff-1"}')]


def test_dead_node_seats_are_held_then_resumed_elsewhere() -> None:
    n1, n2 = make_core("n1"), make_core("n2")
    out = connect_join(n1, 1, "res")
    wire(n1, n2, out, at(0))
    out = connect_join(n2, 2, "staff")
    wire(n2, n1, out, at(0))
    n1.tick(at(0))
    wire(n1, n2, [Publish(HeartbeatEvent("n1"))], at(0))
    # n1 dies silently. n2 notices after the node timeout.
    out = n2.tick(at(16))
    assert sent(out, 2) == [PeerReconnecting(peer="res-1", grace=30)]
    out = connect_join(n2, 3, "res", t=20, resume="n1-s1")
    (joined,) = sent(out, 3)
    assert isinstance(joined, Joined) and joined.resumed
    assert sent(out, 2) == [PeerResumed(peer="res-1", initiator=True)]
    room = n2.room("r1")
    assert room is not None and room.seats["res-1"].node == "n2"
    assert room.seats["res-1"].status is PeerStatus.PRESENT


def test_a_silent_node_is_noticed_in_every_room_again_after_it_came_back() -> None:
    n1, n2 = make_core("n1"), make_core("n2")
    wire(n1, n2, connect_join(n1, 1, "res"), at(0))
    wire(n1, n2, connect_join(n1, 3, "other", room="r2"), at(0))
    wire(n2, n1, connect_join(n2, 2, "staff"), at(0))
    wire(n1, n2, [Publish(HeartbeatEvent("n1"))], at(0))
    assert sent(n2.tick(at(10)), 2) == []  # n1 is still alive
    assert sent(n2.tick(at(16)), 2) == [PeerReconnecting(peer="res-1", grace=30)]
    # After the grace period the surviving node releases both orphan seats.
    out = n2.tick(at(47))
    assert sent(out, 2) == [PeerLeft(peer="res-1", reason=LeaveReason.TIMEOUT)]
    assert records(out) == [EventKind.LEAVE, EventKind.LEAVE]
    r1, r2 = n2.room("r1"), n2.room("r2")
    assert r1 is not None and set(r1.seats) == {"staff-1"}
    assert r2 is None or not r2.seats
    # n1 restarts, seats someone again, then falls silent again.
    n1 = make_core("n1")
    wire(n1, n2, [Publish(HeartbeatEvent("n1"))], at(50))
    wire(n1, n2, connect_join(n1, 4, "res-b", t=50), at(50))
    assert sent(n2.tick(at(60)), 2) == []
    assert sent(n2.tick(at(66)), 2) == [PeerReconnecting(peer="res-2", grace=30)]


def test_join_race_across_nodes_has_one_winner() -> None:
    n1, n2 = make_core("n1"), make_core("n2")
    out1 = connect_join(n1, 1, "res", t=0)
    out2 = connect_join(n2, 2, "res-b", t=0.001)
    lost = wire(n1, n2, out1, at(0.01))
    assert closes(lost) == {2: CloseCode.ROOM_FULL}
    assert wire(n2, n1, out2, at(0.01)) == []
    r1, r2 = n1.room("r1"), n2.room("r1")
    assert r1 is not None and r2 is not None
    assert set(r1.seats) == set(r2.seats) == {"res-1"}


def test_end_on_one_node_closes_participants_on_the_other() -> None:
    n1, n2 = make_core("n1"), make_core("n2")
    wire(n1, n2, connect_join(n1, 1, "res"), at(0))
    wire(n2, n1, connect_join(n2, 2, "staff"), at(0))
    out = n2.receive(2, '{"type":"end"}', at(3))
    remote = wire(n2, n1, out, at(3))
    assert sent(remote, 1) == [Ended(by="staff-1")]
    assert closes(remote) == {1: CloseCode.CALL_ENDED}
    assert records(remote) == [EventKind.LEAVE]
    assert n1.is_ended("r1")
