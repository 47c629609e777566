"""Time-limited TURN credentials per call, in the TURN REST API style.

coturn (``use-auth-secret`` + ``static-auth-secret``) and most TURN servers
accept a username ``<expiry unix time>:<call id>`` with the password
``base64(HMAC-SHA1(shared secret, username))``: the app and the TURN server
share only the secret, and a leaked credential stops working at its expiry
and names the one call it was issued for.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.core.settings import Settings


@dataclass(frozen=True)
class TurnCredential:
    username: str
    credential: str
    expires: datetime


def turn_credential(secret: str, call_id: str, now: datetime, ttl: timedelta) -> TurnCredential:
    if ":" in call_id:
        raise ValueError("a call id must not contain ':' (it separates the expiry)")
    expires = now + ttl
    username = f"{int(expires.timestamp())}:{call_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredential(username, base64.b64encode(digest).decode("ascii"), expires)


def ice_servers(settings: Settings, call_id: str | None, now: datetime) -> list[dict[str, Any]]:
    """The browser's ``iceServers``: STUN/TURN URLs, with TURN credentials for one call."""
    servers: list[dict[str, Any]] = [{"urls": [url]} for url in settings.ice_servers]
    if settings.turn_urls and settings.turn_secret and call_id:
        cred = turn_credential(
            settings.turn_secret, call_id, now, timedelta(minutes=settings.turn_ttl_minutes)
        )
        servers.append(
            {
                "urls": list(settings.turn_urls),
                "username": cred.username,
                "credential": cred.credential,
            }
        )
    return servers
