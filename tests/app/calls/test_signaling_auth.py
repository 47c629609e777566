"""The adapter from the app's join tokens to signaling's ``Authenticate`` port."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.calls.signaling_auth import document_verifier, token_authenticator
from app.core.tokens import Purpose, Tokens
from signaling.actions import Admission
from signaling.errors import AuthError, ErrorCode
from signaling.messages import Role

NOW = datetime(2026, 1, 6, 1, 0, tzinfo=UTC)
TOKENS = Tokens("signaling-auth-tests-secret")
AUTH = token_authenticator(TOKENS)


def issue(claims: dict[str, object], purpose: Purpose = Purpose.JOIN) -> str:
    return TOKENS.issue(
        purpose, claims, not_before=NOW - timedelta(minutes=1), expires=NOW + timedelta(hours=1)
    )


def refused(token: str, now: datetime = NOW) -> ErrorCode:
    with pytest.raises(AuthError) as exc:
        AUTH(token, now)
    return exc.value.code


def test_a_join_token_admits_its_room_role_and_participant() -> None:
    token = issue({"room": "r1", "role": "resident", "pid": "p1", "name": "山田"})
    assert AUTH(token, NOW) == Admission("r1", Role.RESIDENT, "p1", "山田")


def test_expired_early_foreign_and_malformed_tokens_are_refused_with_their_code() -> None:
    claims: dict[str, object] = {"room": "r1", "role": "staff", "pid": "s1"}
    assert refused(issue(claims), NOW + timedelta(hours=2)) is ErrorCode.TOKEN_EXPIRED
    assert refused(issue(claims), NOW - timedelta(hours=1)) is ErrorCode.TOKEN_NOT_YET_VALID
    assert refused(issue(claims, Purpose.MANAGE)) is ErrorCode.TOKEN_INVALID
    assert refused(issue({**claims, "role": "janitor"})) is ErrorCode.TOKEN_INVALID
    assert refused(issue({**claims, "room": ""})) is ErrorCode.TOKEN_INVALID
    assert refused("not-a-token") is ErrorCode.TOKEN_INVALID


def test_hand_over_claim_is_read_from_staff_tokens_only() -> None:
    def with_handover(role: str, handover: object) -> str:
        return issue({"room": "r1", "role": role, "pid": f"{role}-1", "handover": handover})

    assert AUTH(with_handover("staff", True), NOW).handover is True
    assert AUTH(with_handover("staff", False), NOW).handover is False
    assert AUTH(with_handover("resident", True), NOW).handover is False
    assert refused(with_handover("staff", "yes")) is ErrorCode.TOKEN_INVALID


def test_language_claim_is_read_from_interpreter_tokens_only() -> None:
    def with_lang(role: str, lang: object) -> str:
        return issue({"room": "r1", "role": role, "pid": f"{role}-1", "lang": lang})

    assert AUTH(with_lang("interpreter", "jsl"), NOW).language == "jsl"
    assert AUTH(issue({"room": "r1", "role": "interpreter", "pid": "i"}), NOW).language == ""
    assert AUTH(with_lang("staff", "jsl"), NOW).language == ""
    assert refused(with_lang("interpreter", 7)) is ErrorCode.TOKEN_INVALID
    assert refused(with_lang("interpreter", "x" * 200)) is ErrorCode.TOKEN_INVALID


def test_a_pushed_document_link_needs_a_document_token_of_ours_still_valid() -> None:
    verify = document_verifier(TOKENS)
    token = TOKENS.issue(Purpose.DOCUMENT, {"d": 7}, expires=NOW + timedelta(days=1))
    assert verify(token, NOW) is True
    assert verify(token, NOW + timedelta(days=2)) is False  # expired
    assert verify(issue({"room": "r1", "role": "staff", "pid": "s1"}), NOW) is False  # a join token
    other = Tokens("another-city-secret").issue(
        Purpose.DOCUMENT, {"d": 7}, expires=NOW + timedelta(days=1)
    )
    assert verify(other, NOW) is False
