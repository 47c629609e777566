"""Signed, purpose-bound, expiring link tokens (itsdangerous).

Each purpose uses its own salt, so a manage token can never be replayed as a
join token. Validity windows are absolute (``nbf``/``exp`` in the payload)
because a join link must open *before* a slot, which ``max_age`` cannot say.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer


class Purpose(StrEnum):
    MANAGE = "manage"
    ICS = "ics"
    FEED = "feed"
    JOIN = "join"
    WAITLIST_OFFER = "waitlist-offer"
    # A registered kiosk device's screen (claims: ``k`` kiosk id).
    KIOSK = "kiosk"
    # A call handed over to a colleague (claims: ``c`` booking code, ``to`` staff
    # id, ``m`` warm|cold); see app/api/call_team.py.
    HANDOVER = "handover"
    # A stored call document's download (claims: ``d`` document id).
    DOCUMENT = "document"
    # A resident's status page of one application (claims: ``a`` id, ``r`` reference).
    APPLICATION = "application"
    # An OpenID Connect sign-in under way (claims: ``s`` state, ``n`` nonce, ``next``).
    OIDC_STATE = "oidc-state"
    # A LINE user id taken from a verified LINE Login ID token (claims: ``u``).
    LINE_USER = "line-user"
    # The resident's rating of one call (claims: ``r`` session record id, ``src`` source).
    RATING = "rating"
    # A place in a rush service's admission queue (claims: ``s`` service id, ``n`` number).
    RUSH_TICKET = "rush-ticket"
    # That place's turn to book, until ``exp`` (claims: ``s`` service id, ``n`` number).
    RUSH_ADMISSION = "rush-admission"


class TokenError(Exception):
    """Base of token failures; ``code`` is stable and shown to clients."""

    code = "token-invalid"


class TokenInvalid(TokenError):
    """Tampered, malformed or meant for another purpose."""


class TokenExpired(TokenError):
    code = "token-expired"


class TokenNotYetValid(TokenError):
    code = "token-not-yet-valid"

    def __init__(self, opens_at: datetime) -> None:
        super().__init__(f"valid from {opens_at.isoformat()}")
        self.opens_at = opens_at


class Tokens:
    def __init__(self, secret: str) -> None:
        self._secret = secret

    def _serializer(self, purpose: Purpose) -> URLSafeSerializer:
        return URLSafeSerializer(self._secret, salt=f"madoguchi/{purpose.value}")

    def issue(
        self,
        purpose: Purpose,
        claims: dict[str, Any],
        *,
        not_before: datetime | None = None,
        expires: datetime | None = None,
    ) -> str:
        payload = dict(claims)
        if not_before is not None:
            payload["nbf"] = int(not_before.timestamp())
        if expires is not None:
            payload["exp"] = int(expires.timestamp())
        return str(self._serializer(purpose).dumps(payload))

    def verify(self, purpose: Purpose, token: str, *, now: datetime) -> dict[str, Any]:
        try:
            payload = self._serializer(purpose).loads(token)
        except BadSignature as exc:
            raise TokenInvalid("bad signature") from exc
        if not isinstance(payload, dict):
            raise TokenInvalid("bad payload")
        ts = now.timestamp()
        exp = payload.get("exp")
        if exp is not None and ts >= float(exp):
            raise TokenExpired("expired")
        nbf = payload.get("nbf")
        if nbf is not None and ts < float(nbf):
            raise TokenNotYetValid(datetime.fromtimestamp(float(nbf), tz=now.tzinfo))
        return payload
