"""An interpreter's language travels with their seat to the others' peer info.

The visitor's screen shows a sign-language interpreter beside the staff member
(web/static/js/call/ui.js); it learns the language from ``language`` in the
peer info, which comes from the admission (the join token's ``lang`` claim).
"""

from __future__ import annotations

import json

from test_signaling_core import TOKENS, at, connect_join, make_core, sent

from signaling.bus import SeatEvent, decode_event, encode_event
from signaling.core import Admission, Publish
from signaling.messages import Joined, PeerInfo, PeerJoined, Role, Source, parse, serialize

TOKENS.update({"signer": Admission("r1", Role.INTERPRETER, "int-7", "佐藤", language="jsl")})


def test_the_others_see_the_interpreters_language() -> None:
    core = make_core()
    connect_join(core, 1, "res")
    out = connect_join(core, 2, "signer", t=1)
    announced = [m for m in sent(out, 1) if isinstance(m, PeerJoined)]
    assert [(m.peer.id, m.peer.role, m.peer.language) for m in announced] == [
        ("int-7", Role.INTERPRETER, "jsl")
    ]
    # The one who joins later sees it in `joined` too; the others carry none.
    out = connect_join(core, 3, "staff", t=2)
    (joined,) = [m for m in sent(out, 3) if isinstance(m, Joined)]
    assert {p.id: p.language for p in joined.peers} == {"res-1": "", "int-7": "jsl"}


def test_language_is_on_the_wire_only_when_set_and_round_trips() -> None:
    signer = PeerInfo(id="int-7", role=Role.INTERPRETER, name="佐藤", language="jsl")
    staff = PeerInfo(id="staff-1", role=Role.STAFF, name="田中")
    text = serialize(PeerJoined(peer=signer))
    assert json.loads(text)["peer"]["language"] == "jsl"
    assert parse(text, Source.SERVER) == PeerJoined(peer=signer)
    assert "language" not in json.loads(serialize(PeerJoined(peer=staff)))["peer"]
    assert parse(serialize(PeerJoined(peer=staff)), Source.SERVER) == PeerJoined(peer=staff)


def test_the_language_crosses_the_bus_and_old_events_still_decode() -> None:
    n1, n2 = make_core("n1"), make_core("n2")
    out = connect_join(n1, 1, "signer")
    for action in out:
        if isinstance(action, Publish) and isinstance(action.event, SeatEvent):
            n2.remote(decode_event(encode_event(action.event)), at(0))
    room = n2.room("r1")
    assert room is not None and room.seats["int-7"].language == "jsl"
    old = (
        '{"k":"seat","change":"joined","room":"r1","pid":"s","role":"staff","name":"",'
        '"node":"n","session":"x","status":"present","since":1.0,"epoch":1,'
        '"grace_until":null,"connected":false,"handover":false}'
    )
    event = decode_event(old)
    assert isinstance(event, SeatEvent) and event.seat.language == ""
