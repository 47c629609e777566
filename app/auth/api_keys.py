"""API keys for other municipal systems calling the staff API (e.g. the tracker).

A key acts as one staff account (a dedicated, least-privileged one is the
intent), so every read and change it makes is audited under that account.
Only SHA-256 digests are configured: ``MADOGUCHI_API_KEYS='["login:digest"]'``;
``madoguchi api-key LOGIN`` prints a fresh key and its line.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "mdgk_"


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def config_entry(login: str, key: str) -> str:
    return f"{login}:{digest(key)}"


def login_for(key: str, entries: list[str]) -> str | None:
    """The staff login a presented key stands for, or None."""
    presented = digest(key)
    found = None
    for entry in entries:
        login, _, expected = entry.rpartition(":")
        # Compare every entry in constant time so timing does not tell which matched.
        if login and hmac.compare_digest(presented, expected):
            found = login
    return found
