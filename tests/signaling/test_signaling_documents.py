"""Documents at the counter in the core: consent request/answer and pushed documents."""

from __future__ import annotations

import json

import pytest
from test_signaling_core import at, connect_join, errors, make_core, sent

from signaling.core import Record, SignalingCore
from signaling.errors import ErrorCode, ProtocolError
from signaling.events import EventKind
from signaling.messages import (
    Consent,
    ConsentPurpose,
    ConsentRequest,
    Document,
    Source,
    parse,
    serialize,
)

URL = "/api/v1/documents/abc.def"


def frame(kind: str, **fields: object) -> str:
    return json.dumps({"type": kind, **fields})


def in_call() -> SignalingCore:
    core = make_core()
    connect_join(core, 1, "res")
    connect_join(core, 2, "staff")
    connect_join(core, 3, "interp")
    return core


def test_wire_round_trips() -> None:
    for message in (
        ConsentRequest(purpose=ConsentPurpose.PHOTO, from_="s"),
        Consent(purpose=ConsentPurpose.PHOTO, granted=False, from_="r"),
        Document(url=URL, name="申請書.pdf", from_="s"),
    ):
        assert parse(serialize(message), Source.SERVER) == message
    with pytest.raises(ProtocolError):
        parse(frame("consent", purpose="photo", to="s"))  # `granted` is required
    with pytest.raises(ProtocolError):
        parse(frame("document", url="https://elsewhere.example/x.pdf", name="x"))


def test_photo_consent_is_asked_by_staff_answered_by_the_visitor_and_recorded() -> None:
    core = in_call()
    out = core.receive(2, frame("consent-request", purpose="photo", to="res-1"), at(5))
    assert sent(out, 1) == [ConsentRequest(purpose=ConsentPurpose.PHOTO, from_="staff-1")]
    assert sent(out, 3) == []  # only the visitor is asked
    (event,) = [a.event for a in out if isinstance(a, Record)]
    assert event.kind is EventKind.CONSENT_REQUEST and event.participant == "staff-1"

    out = core.receive(1, frame("consent", purpose="photo", granted=True, to="staff-1"), at(6))
    assert sent(out, 2) == [Consent(purpose=ConsentPurpose.PHOTO, granted=True, from_="res-1")]
    (event,) = [a.event for a in out if isinstance(a, Record)]
    assert event.kind is EventKind.CONSENT
    assert event.detail == {"purpose": "photo", "to": "staff-1", "granted": "true"}


def test_only_staff_ask_and_only_the_visitor_consents() -> None:
    core = in_call()
    ask = frame("consent-request", purpose="photo", to="res-1")
    assert errors(core.receive(1, ask, at(5)), 1) == [ErrorCode.FORBIDDEN]
    assert errors(core.receive(3, ask, at(5)), 3) == [ErrorCode.FORBIDDEN]
    # Nobody may consent on the visitor's behalf, not even staff.
    grant = frame("consent", purpose="photo", granted=True, to="staff-1")
    assert errors(core.receive(3, grant, at(6)), 3) == [ErrorCode.FORBIDDEN]
    out = core.receive(2, frame("consent", purpose="photo", granted=True, to="res-1"), at(6))
    assert errors(out, 2) == [ErrorCode.FORBIDDEN]
    assert not [a for a in out if isinstance(a, Record)]
    unknown = frame("consent", purpose="photo", granted=True, to="nobody")
    assert errors(core.receive(1, unknown, at(7)), 1) == [ErrorCode.UNKNOWN_PEER]


def test_pushed_document_reaches_everyone_else() -> None:
    core = in_call()
    out = core.receive(2, frame("document", url=URL, name="申請書.pdf"), at(5))
    pushed = Document(url=URL, name="申請書.pdf", from_="staff-1")
    assert sent(out, 1) == [pushed] and sent(out, 3) == [pushed] and sent(out, 2) == []
    (event,) = [a.event for a in out if isinstance(a, Record)]
    assert (event.kind, event.detail) == (EventKind.DOCUMENT, {"name": "申請書.pdf"})
    assert errors(core.receive(1, frame("document", url=URL, name="x"), at(6)), 1) == [
        ErrorCode.FORBIDDEN
    ]
