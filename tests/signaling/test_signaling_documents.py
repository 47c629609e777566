"""Documents at the counter in the core: consent request/answer and pushed documents."""

from __future__ import annotations

import json
from datetime import datetime

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


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/documents/../../staff/logout",  # passed the old prefix check
        "/api/v1/documents/%2e%2e/%2e%2e/staff/logout",
        "/api/v1/documents/abc/../../../staff/logout",
        "/api/v1/documents/..",
        "/api/v1/documents/",
        "/api/v1/documents/abc.def?next=/staff/logout",
        "/api/v1/documents/abc.def#x",
        "/api/v1/documents/abc%2Fdef",
        "/api/v1/documents/abc\\..\\..\\staff",
        "/api/v1/documents//abc.def",
        "//elsewhere.example/api/v1/documents/abc.def",
        "https://elsewhere.example/api/v1/documents/abc.def",
        "/api/v1/documentsX/abc.def",
    ],
)
def test_a_document_url_must_be_one_of_our_links_in_normal_form(url: str) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse(frame("document", url=url, name="x"))
    assert refused.value.code is ErrorCode.INVALID_MESSAGE
    # ... and the core answers a push of it with an error, relaying nothing.
    core = in_call()
    out = core.receive(2, frame("document", url=url, name="x"), at(5))
    assert errors(out, 2) == [ErrorCode.INVALID_MESSAGE]
    assert sent(out, 1) == [] and sent(out, 3) == []


def test_a_pushed_link_must_carry_a_token_the_verifier_accepts() -> None:
    checked: list[str] = []

    def verify(token: str, now: datetime) -> bool:
        checked.append(token)
        return token == "signed.token"

    core = make_core(verify_document=verify)
    connect_join(core, 1, "res")
    connect_join(core, 2, "staff")
    forged = core.receive(2, frame("document", url="/api/v1/documents/forged.x", name="x"), at(5))
    assert errors(forged, 2) == [ErrorCode.INVALID_MESSAGE] and sent(forged, 1) == []
    assert not [a for a in forged if isinstance(a, Record)]
    good = "/api/v1/documents/signed.token"
    out = core.receive(2, frame("document", url=good, name="x"), at(6))
    assert sent(out, 1) == [Document(url=good, name="x", from_="staff-1")]
    assert checked == ["forged.x", "signed.token"]
