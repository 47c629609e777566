"""Hand-over in the sans-I/O core: the `transfer` message, hand-over seats, records."""

from __future__ import annotations

import json

import pytest
from test_signaling_core import (
    TOKENS,
    at,
    closes,
    connect_join,
    errors,
    make_core,
    records,
    sent,
)

from signaling.bus import SeatEvent, decode_event, encode_event
from signaling.core import Admission, Publish, Record
from signaling.errors import CloseCode, ErrorCode, ProtocolError
from signaling.events import EventKind
from signaling.messages import (
    PeerJoined,
    Role,
    Source,
    Transfer,
    TransferMode,
    parse,
    serialize,
)

TOKENS.update(
    {
        "handover": Admission("r1", Role.STAFF, "staff-3", "高橋", handover=True),
        "handover-b": Admission("r1", Role.STAFF, "staff-4", "伊藤", handover=True),
    }
)


def transfer(mode: str = "warm", **extra: str) -> str:
    return json.dumps({"type": "transfer", "mode": mode, **extra})


def test_transfer_round_trips_on_the_wire() -> None:
    msg = parse(transfer("cold", target="staff:12", department="kokuho"))
    assert msg == Transfer(mode=TransferMode.COLD, target="staff:12", department="kokuho")
    notice = Transfer(mode=TransferMode.WARM, target="staff:12", by="staff:3")
    text = serialize(notice)
    assert json.loads(text) == {
        "type": "transfer",
        "mode": "warm",
        "target": "staff:12",
        "by": "staff:3",
    }
    assert parse(text, Source.SERVER) == notice
    assert parse(transfer("cold")) == Transfer(mode=TransferMode.COLD)
    with pytest.raises(ProtocolError) as bad:
        parse(transfer("lukewarm"))
    assert bad.value.code is ErrorCode.INVALID_MESSAGE


def test_only_staff_may_transfer() -> None:
    core = make_core()
    connect_join(core, 1, "res")
    connect_join(core, 2, "staff")
    out = core.receive(1, transfer(), at(5))
    assert errors(out, 1) == [ErrorCode.FORBIDDEN]
    assert records(out) == []


def test_transfer_is_recorded_and_announced_to_the_others() -> None:
    core = make_core()
    connect_join(core, 1, "res")
    connect_join(core, 2, "staff")
    connect_join(core, 3, "interp")
    out = core.receive(2, transfer("warm", target="staff-3", department="d-2"), at(5))
    (record,) = [a.event for a in out if isinstance(a, Record)]
    assert record.kind is EventKind.TRANSFER and record.participant == "staff-1"
    assert record.detail == {"mode": "warm", "target": "staff-3", "department": "d-2"}
    notice = Transfer(mode=TransferMode.WARM, target="staff-3", department="d-2", by="staff-1")
    assert sent(out, 1) == [notice]
    assert sent(out, 3) == [notice]
    assert sent(out, 2) == []
    assert closes(out) == {}  # nobody's connection is touched


def test_hand_over_ticket_takes_the_extra_staff_seat_once() -> None:
    core = make_core()
    connect_join(core, 1, "res")
    connect_join(core, 2, "staff")
    # An ordinary second staff ticket still finds the staff seat taken.
    assert errors(connect_join(core, 3, "staff-b"), 3) == [ErrorCode.ROOM_FULL]
    out = connect_join(core, 4, "handover", t=2)
    assert errors(out, 4) == []
    assert any(isinstance(m, PeerJoined) and m.peer.id == "staff-3" for m in sent(out, 1))
    (join_event,) = [a.event for a in out if isinstance(a, Record)]
    assert join_event.detail == {"name": "高橋", "handover": "true"}
    out = connect_join(core, 5, "handover-b", t=3)
    assert errors(out, 5) == [ErrorCode.ROOM_FULL]
    assert closes(out) == {5: CloseCode.ROOM_FULL}
    room = core.room("r1")
    assert room is not None and set(room.seats) == {"res-1", "staff-1", "staff-3"}


def test_join_records_name_staff_but_not_residents() -> None:
    core = make_core()
    out = connect_join(core, 1, "res")
    assert [a.event.detail for a in out if isinstance(a, Record)] == [{}]
    out = connect_join(core, 2, "staff")
    assert [a.event.detail for a in out if isinstance(a, Record)] == [{"name": "田中"}]


def test_cold_hand_over_the_resident_waits_and_the_next_staff_takes_the_seat() -> None:
    core = make_core()
    connect_join(core, 1, "res")
    connect_join(core, 2, "staff")
    core.receive(2, transfer("cold", department="d-2"), at(5))
    out = core.receive(2, '{"type":"leave"}', at(6))
    assert closes(out) == {2: CloseCode.NORMAL}
    assert 1 not in closes(out)
    room = core.room("r1")
    assert room is not None and set(room.seats) == {"res-1"}
    assert errors(connect_join(core, 3, "staff-b", t=7), 3) == []
    assert room.seats["res-1"].session == "n1-s1"  # the resident's seat never changed


def test_hand_over_seat_is_replicated_to_other_nodes() -> None:
    n1, n2 = make_core("n1"), make_core("n2")
    for conn, token, core in [(1, "res", n1), (2, "staff", n1), (3, "handover", n2)]:
        out = connect_join(core, conn, token)
        other = n2 if core is n1 else n1
        for action in out:
            if isinstance(action, Publish) and isinstance(action.event, SeatEvent):
                # Across the bus: encode and decode as Redis would carry it.
                other.remote(decode_event(encode_event(action.event)), at(0))
    r1, r2 = n1.room("r1"), n2.room("r1")
    assert r1 is not None and r2 is not None
    assert set(r1.seats) == set(r2.seats) == {"res-1", "staff-1", "staff-3"}
    assert r1.seats["staff-3"].handover and not r1.seats["staff-1"].handover


def test_seat_events_without_the_handover_field_still_decode() -> None:
    old = (
        '{"k":"seat","change":"joined","room":"r1","pid":"s","role":"staff","name":"",'
        '"node":"n","session":"x","status":"present","since":1.0,"epoch":1,'
        '"grace_until":null,"connected":false}'
    )
    event = decode_event(old)
    assert isinstance(event, SeatEvent) and event.seat.handover is False
