"""OpenID Connect relying party: authorization URL, code exchange, ID-token verification.

``authlib`` does the OAuth 2.0 side (the authorization URL, the code for
tokens exchange, over its httpx client); ``joserfc`` (authlib's JOSE library)
verifies the ID token: the signature against the provider's JWKS (or, for
HS256 as LINE Login uses for web logins, the client secret), then ``iss``,
``aud``, ``exp`` against the app's clock, and the ``nonce`` the login started
with. Used for LINE Login (app/line/login.py) and staff sign-in through the
city's directory (app/auth/oidc.py).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OctKey

from app.core.clock import Clock
from app.core.tokens import Purpose, TokenError, Tokens

DISCOVERY_TTL_SECONDS = 3600
STATE_VALID_SECONDS = 600
ALGORITHMS = ("RS256", "ES256", "HS256")


class OidcError(Exception):
    """The login cannot complete; ``code`` is stable and shown to the person."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks: dict[str, Any]


_cache: dict[str, tuple[float, Provider]] = {}
_cache_lock = threading.Lock()


def _http() -> httpx.Client:
    return httpx.Client(timeout=10, trust_env=False)


def provider(discovery_url: str) -> Provider:
    """The provider's discovery document and keys, cached for an hour."""
    with _cache_lock:
        hit = _cache.get(discovery_url)
        if hit is not None and time.monotonic() - hit[0] < DISCOVERY_TTL_SECONDS:
            return hit[1]
    try:
        with _http() as http:
            meta = http.get(discovery_url).raise_for_status().json()
            jwks = http.get(meta["jwks_uri"]).raise_for_status().json()
        found = Provider(
            issuer=meta["issuer"],
            authorization_endpoint=meta["authorization_endpoint"],
            token_endpoint=meta["token_endpoint"],
            jwks=jwks,
        )
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        raise OidcError(
            "provider-unreachable", f"The sign-in provider did not answer: {exc}"
        ) from exc
    with _cache_lock:
        _cache[discovery_url] = (time.monotonic(), found)
    return found


def new_state() -> tuple[str, str]:
    """A fresh ``state`` and ``nonce``."""
    return secrets.token_urlsafe(24), secrets.token_urlsafe(24)


def state_cookie(
    tokens: Tokens, clock: Clock, flow: str, state: str, nonce: str, target: str
) -> str:
    """The signed cookie that ties the provider's answer to this browser's sign-in."""
    return tokens.issue(
        Purpose.OIDC_STATE,
        {"s": state, "n": nonce, "next": target, "p": flow},
        expires=datetime.fromtimestamp(clock.now().timestamp() + STATE_VALID_SECONDS, UTC),
    )


def read_state(
    tokens: Tokens, clock: Clock, flow: str, cookie: str | None, state: str | None
) -> dict[str, Any]:
    if not cookie or not state:
        raise OidcError("state-missing", "The sign-in was not started here, or took too long.")
    try:
        claims = tokens.verify(Purpose.OIDC_STATE, cookie, now=clock.now())
    except TokenError as exc:
        raise OidcError("state-invalid", "The sign-in took too long. Please start again.") from exc
    if claims.get("p") != flow or not secrets.compare_digest(str(claims.get("s")), state):
        raise OidcError("state-mismatch", "The sign-in does not match this browser.")
    return claims


@dataclass(frozen=True)
class RelyingParty:
    discovery_url: str
    client_id: str
    client_secret: str
    clock: Clock
    scope: str = "openid profile"
    leeway_seconds: int = 30

    def _client(self, redirect_uri: str) -> OAuth2Client:
        return OAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            scope=self.scope,
            redirect_uri=redirect_uri,
            token_endpoint_auth_method="client_secret_post",  # noqa: S106
            timeout=10,
            trust_env=False,
        )

    def authorization_url(self, redirect_uri: str, state: str, nonce: str) -> str:
        meta = provider(self.discovery_url)
        with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                meta.authorization_endpoint, state=state, nonce=nonce
            )
        return str(url)

    def exchange(self, code: str, redirect_uri: str) -> str:
        """The ID token for an authorization code."""
        meta = provider(self.discovery_url)
        try:
            with self._client(redirect_uri) as client:
                token = client.fetch_token(meta.token_endpoint, code=code)
        except Exception as exc:  # authlib raises its OAuth errors and httpx's
            raise OidcError("code-refused", f"The provider refused the code: {exc}") from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise OidcError("no-id-token", "The provider sent no ID token.")
        return id_token

    def verify(self, id_token: str, nonce: str) -> dict[str, Any]:
        """The claims of a valid ID token for this client and this login; else OidcError."""
        meta = provider(self.discovery_url)
        keys = KeySet.import_key_set(meta.jwks)  # type: ignore[arg-type]
        secret = OctKey.import_key(self.client_secret)

        def key_for(guest: Any) -> Any:
            return secret if guest.headers().get("alg") == "HS256" else keys

        try:
            token = jwt.decode(id_token, key_for, algorithms=list(ALGORITHMS))
        except (JoseError, ValueError) as exc:
            raise OidcError("id-token-invalid", "The ID token's signature is not valid.") from exc
        claims: dict[str, Any] = dict(token.claims)
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self.clock.now().timestamp()),
            leeway=self.leeway_seconds,
            iss={"essential": True, "value": meta.issuer},
            aud={"essential": True, "value": self.client_id},
            sub={"essential": True},
            exp={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            name = getattr(exc, "claim", "") or ""
            if exc.error == "expired_token":
                raise OidcError("id-token-expired", "The ID token has expired.") from exc
            if name == "aud":
                raise OidcError(
                    "id-token-audience", "The ID token was issued for another client."
                ) from exc
            raise OidcError(
                "id-token-invalid", f"The ID token is not valid ({exc.error})."
            ) from exc
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise OidcError("id-token-nonce", "The ID token does not belong to this sign-in.")
        return claims
