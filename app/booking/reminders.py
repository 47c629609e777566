"""Queue reminder mail for upcoming bookings (run by the jobs loop).

A reminder is due ``offset`` minutes before the start; it is queued once per
booking, booking time (``sequence``, bumped on reschedule, which re-arms the
reminders) and offset, guarded by the outbox's unique ``dedup_key``, so
several workers and repeated passes never queue it twice. Cancelled bookings
get none, and a reminder whose moment had passed before the booking was made
or moved is skipped: the confirmation said the same thing just then.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.booking.notify import REMINDER_KIND, Notifier
from app.core.context import AppContext
from app.core.db import chunks
from app.core.outbox import OutboxMail
from scheduler.models import Booking, BookingStatus

log = logging.getLogger(__name__)


def reminder_offsets(ctx: AppContext) -> list[int]:
    return sorted({m for m in ctx.settings.reminder_offsets_minutes if m > 0})


def due_reminders(session: Session, offsets: list[int], now: datetime) -> list[tuple[int, int]]:
    """(booking id, offset) of each reminder due at ``now`` and not queued yet.

    Reads only, a few columns and one look-up of the outbox's keys per batch,
    so the jobs loop can decide outside a write transaction.
    """
    if not offsets:
        return []
    rows = session.execute(
        select(Booking.id, Booking.start_at, Booking.updated_at, Booking.sequence).where(
            Booking.status == BookingStatus.CONFIRMED,
            Booking.start_at > now,
            Booking.start_at <= now + timedelta(minutes=offsets[-1]),
        )
    ).all()
    wanted: dict[str, tuple[int, int]] = {}
    for booking_id, start_at, updated_at, sequence in rows:
        for offset in offsets:
            due = start_at - timedelta(minutes=offset)
            if due > now or due < updated_at:
                continue
            wanted[f"reminder:{booking_id}:{sequence}:{offset}"] = (booking_id, offset)
    if not wanted:
        return []
    ids = sorted({booking_id for booking_id, _ in wanted.values()})
    queued: set[str] = set()
    for chunk in chunks(ids, 500):
        keys = session.scalars(
            select(OutboxMail.dedup_key).where(
                OutboxMail.booking_id.in_(chunk),
                OutboxMail.kind == REMINDER_KIND,
            )
        )
        # A reminder's keys carry a channel suffix: "reminder:<id>:<seq>:<offset>:mail".
        queued.update(key.rsplit(":", 1)[0] for key in keys if key)
    return [due for key, due in wanted.items() if key not in queued]


def queue_reminder(session: Session, ctx: AppContext, booking_id: int, offset: int) -> bool:
    """Queue one reminder; False when the booking changed or another worker was first."""
    booking = session.get(Booking, booking_id)
    if booking is None or booking.status != BookingStatus.CONFIRMED:
        return False
    try:
        with session.begin_nested():
            Notifier(session, ctx).booking_reminder(booking, offset)
    except IntegrityError:  # another worker queued it first
        return False
    log.info("booking %s: reminder %s min before queued", booking.id, offset)
    return True


def queue_reminders(session: Session, ctx: AppContext, now: datetime) -> int:
    """Queue the reminders due at ``now``; the caller commits. Returns how many."""
    due = due_reminders(session, reminder_offsets(ctx), now)
    return sum(queue_reminder(session, ctx, booking_id, offset) for booking_id, offset in due)
