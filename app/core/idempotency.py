"""``Idempotency-Key`` for booking creation: a retried request books once.

The key row is inserted *before* the booking, in the same transaction. A
concurrent request with the same key then waits on the key's primary key
(PostgreSQL) or on the single writer (SQLite) until the first one ends: if
it committed, the second sees the key and returns the same booking; if it
rolled back (say, the slot was taken), the second books normally. The key is
bound to a hash of the request body, so reusing it for a different booking
is refused rather than silently answered with the old one.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scheduler.errors import InvalidBookingRequest
from scheduler.models import Booking, IdempotencyKey


def request_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _existing(session: Session, key: str, digest: str) -> Booking | None:
    row = session.get(IdempotencyKey, key, populate_existing=True)
    if row is None:
        return None
    if row.request_hash != digest:
        raise InvalidBookingRequest(
            "This Idempotency-Key was already used for a different request.", "Idempotency-Key"
        )
    return session.get(Booking, row.booking_id) if row.booking_id is not None else None


def reserve(session: Session, key: str, digest: str, now: datetime) -> Booking | None:
    """The booking an earlier request with ``key`` made, or None after reserving ``key``."""
    found = _existing(session, key, digest)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            session.add(IdempotencyKey(key=key, request_hash=digest, created_at=now))
    except IntegrityError:
        # A concurrent request with this key committed while we waited.
        found = _existing(session, key, digest)
        if found is None:  # pragma: no cover - it committed, so its booking exists
            raise
        return found
    return None


def record(session: Session, key: str, booking: Booking) -> None:
    row = session.get(IdempotencyKey, key)
    assert row is not None
    row.booking_id = booking.id
