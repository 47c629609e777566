"""Links between LINE users and bookings, applications or waiting-list entries."""

from __future__ import annotations

import unicodedata
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.line.models import LineLink, LinkVia


def normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def _digits(text: str) -> str:
    return "".join(ch for ch in normal(text) if ch.isdigit())


def answer_matches(answer: str, email: str | None, phone: str | None) -> bool:
    given = normal(answer)
    if email and "@" in given and given.casefold() == normal(email).casefold():
        return True
    digits = _digits(given)
    return bool(phone) and len(digits) >= 6 and digits == _digits(phone or "")


def deactivate(session: Session, line_user_id: str, now: datetime) -> int:
    """Every link of this user goes inactive; returns how many were active."""
    result = session.execute(
        update(LineLink)
        .where(LineLink.line_user_id == line_user_id, LineLink.active.is_(True))
        .values(active=False, deactivated_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def link(
    session: Session,
    user: str,
    now: datetime,
    *,
    booking_id: int | None = None,
    application_id: int | None = None,
    waitlist_entry_id: int | None = None,
    via: LinkVia,
) -> LineLink:
    """Link (or re-activate the link of) ``user`` to one booking, application or entry."""
    query = select(LineLink).where(LineLink.line_user_id == user)
    if booking_id is not None:
        query = query.where(LineLink.booking_id == booking_id)
    elif application_id is not None:
        query = query.where(LineLink.application_id == application_id)
    else:
        query = query.where(LineLink.waitlist_entry_id == waitlist_entry_id)
    row = session.scalar(query)
    if row is None:
        row = LineLink(
            line_user_id=user,
            booking_id=booking_id,
            application_id=application_id,
            waitlist_entry_id=waitlist_entry_id,
            via=via,
            linked_at=now,
        )
        session.add(row)
    row.active, row.deactivated_at = True, None
    session.flush()
    return row
