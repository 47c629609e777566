"""Wire encoding details that the core's hot path relies on."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from signaling.messages import (
    MAX_NEGOTIATION,
    Answer,
    Candidate,
    IceCandidate,
    Offer,
    Source,
    parse,
    relayed_text,
    serialize,
)

ids = st.text(min_size=1, max_size=40)
texts = st.text(max_size=300)
candidates = st.one_of(
    st.none(),
    st.builds(
        IceCandidate,
        candidate=texts,
        sdp_mid=ids,
        sdp_mline_index=st.one_of(st.none(), st.integers(0, 1023)),
        username_fragment=st.one_of(st.none(), ids),
    ),
)
negotiations = st.one_of(st.none(), st.integers(1, MAX_NEGOTIATION))
client_messages = st.one_of(
    st.builds(Offer, sdp=texts.filter(bool), to=ids, negotiation=negotiations),
    st.builds(Answer, sdp=texts.filter(bool), to=ids, negotiation=negotiations),
    st.builds(Candidate, candidate=candidates, to=ids),
)


@given(client_messages, ids)
def test_relayed_text_is_the_relayed_message_serialized(
    message: Offer | Answer | Candidate, sender: str
) -> None:
    text = relayed_text(message, sender)
    expected = replace(message, to=None, from_=sender)
    assert text == serialize(expected)
    assert parse(text, Source.SERVER) == expected
