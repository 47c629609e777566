"""Adapters from the app's signed link tokens to signaling's ``Authenticate`` and
``VerifyDocument`` ports.

The composition root (``app.signaling_node.start_signaling``) hands it to the node;
signaling itself never sees ``app.core.tokens``.

Join tokens are ``app.core.tokens.Tokens`` tokens for ``Purpose.JOIN`` whose claims
are ``{"room": str, "role": str, "pid": str, "name": str}`` plus ``nbf``/``exp``,
and optionally ``handover`` (staff) and ``lang`` (an interpreter's language).
A token for another purpose fails the signature (each purpose has its own
salt), so a manage link can never open a call.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.core.tokens import Purpose, TokenError, Tokens
from signaling.actions import Admission, Authenticate, VerifyDocument
from signaling.errors import AuthError, ErrorCode
from signaling.messages import MAX_ID_CHARS, Role

_CODES = {
    "token-invalid": ErrorCode.TOKEN_INVALID,
    "token-expired": ErrorCode.TOKEN_EXPIRED,
    "token-not-yet-valid": ErrorCode.TOKEN_NOT_YET_VALID,
}


def _claim(claims: dict[str, Any], key: str) -> str:
    value = claims.get(key)
    if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS:
        raise AuthError("malformed join claims", code=ErrorCode.TOKEN_INVALID)
    return value


def token_authenticator(tokens: Tokens) -> Authenticate:
    def authenticate(token: str, now: datetime) -> Admission:
        try:
            claims = tokens.verify(Purpose.JOIN, token, now=now)
        except TokenError as exc:
            raise AuthError(code=_CODES.get(exc.code, ErrorCode.TOKEN_INVALID)) from None
        room, role, pid = _claim(claims, "room"), _claim(claims, "role"), _claim(claims, "pid")
        name = claims.get("name", "")
        if not isinstance(name, str):
            raise AuthError("malformed join claims", code=ErrorCode.TOKEN_INVALID)
        try:
            parsed_role = Role(role)
        except ValueError:
            raise AuthError("unknown role", code=ErrorCode.TOKEN_INVALID) from None
        handover = claims.get("handover", False)
        language = claims.get("lang", "")
        if not isinstance(handover, bool) or not isinstance(language, str):
            raise AuthError("malformed join claims", code=ErrorCode.TOKEN_INVALID)
        if len(language) > MAX_ID_CHARS:
            raise AuthError("malformed join claims", code=ErrorCode.TOKEN_INVALID)
        return Admission(
            room=room,
            role=parsed_role,
            participant_id=pid,
            display_name=name,
            handover=handover and parsed_role is Role.STAFF,
            language=language if parsed_role is Role.INTERPRETER else "",
        )

    return authenticate


def document_verifier(tokens: Tokens) -> VerifyDocument:
    """A pushed document link must carry a document token the app signed and
    that has not expired (the download route checks it again)."""

    def verify(token: str, now: datetime) -> bool:
        try:
            tokens.verify(Purpose.DOCUMENT, token, now=now)
        except TokenError:
            return False
        return True

    return verify
