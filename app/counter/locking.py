"""Routing rounds are serialised across app processes: SQLite by its writer
transaction (``BEGIN IMMEDIATE``, app.core.db.writer), PostgreSQL by a
transaction-scoped advisory lock taken here before any change to the queue."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

# Any constant works: it only has to be the same in every app process.
ROUTING_LOCK_KEY = 60066006


def routing_lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ROUTING_LOCK_KEY})
