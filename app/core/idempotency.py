"""``Idempotency-Key`` for creating requests (bookings): a retried request creates once.

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

from sqlalchemy import (
    ForeignKey,
    String,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import (
    Mapped,
    Session,
    mapped_column,
)

from app.core.db import Base


class KeyReused(ValueError):
    """The key was already used with a different request body."""


def request_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _existing(session: Session, key: str, digest: str) -> int | None:
    row = session.get(IdempotencyKey, key, populate_existing=True)
    if row is None:
        return None
    if row.request_hash != digest:
        raise KeyReused("This Idempotency-Key was already used for a different request.")
    return row.booking_id


def reserve(session: Session, key: str, digest: str, now: datetime) -> int | None:
    """The id of what an earlier request with ``key`` created, or None after reserving ``key``."""
    found = _existing(session, key, digest)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            session.add(IdempotencyKey(key=key, request_hash=digest, created_at=now))
    except IntegrityError:
        # A concurrent request with this key committed while we waited.
        found = _existing(session, key, digest)
        if found is None:  # pragma: no cover - it committed, so what it created exists
            raise
        return found
    return None


def record(session: Session, key: str, created_id: int) -> None:
    row = session.get(IdempotencyKey, key)
    assert row is not None
    row.booking_id = created_id


class IdempotencyKey(Base):
    """A client's ``Idempotency-Key`` for ``POST /api/v1/bookings`` and what it created."""

    __tablename__ = "idempotency_keys"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    # Empty only inside the creating transaction (the key is reserved first).
    booking_id: Mapped[int | None] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), nullable=True
    )
    created_at: Mapped[datetime]
