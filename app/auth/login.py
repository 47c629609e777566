"""Checking a staff member's password, the same way for the login page and the JSON login."""

from __future__ import annotations

import contextlib
from functools import cache

from argon2.exceptions import InvalidHashError, VerificationError

from app.core.passwords import hasher
from scheduler.models import Staff


@cache
def dummy_hash() -> str:
    return hasher.hash("not-a-password")


def check_password(staff: Staff | None, password: str) -> bool:
    """Whether ``password`` is ``staff``'s; False for an unknown or inactive login.

    An unknown login spends a hash check all the same: the answer time must
    not tell whether a login exists.
    """
    if staff is None or not staff.active or not staff.password_hash:
        with contextlib.suppress(VerificationError, InvalidHashError):
            hasher.verify(dummy_hash(), password)
        return False
    try:
        return hasher.verify(staff.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
