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

from app.booking.notify import Notifier
from app.core.context import AppContext
from app.core.outbox import OutboxMail
from scheduler.models import Booking, BookingStatus

log = logging.getLogger(__name__)


def queue_reminders(session: Session, ctx: AppContext, now: datetime) -> int:
    """Queue the reminders due at ``now``; the caller commits. Returns how many."""
    offsets = sorted({m for m in ctx.settings.reminder_offsets_minutes if m > 0})
    if not offsets:
        return 0
    bookings = session.scalars(
        select(Booking).where(
            Booking.status == BookingStatus.CONFIRMED,
            Booking.start_at > now,
            Booking.start_at <= now + timedelta(minutes=offsets[-1]),
        )
    ).all()
    queued = 0
    for booking in bookings:
        for offset in offsets:
            due = booking.start_at - timedelta(minutes=offset)
            if due > now or due < booking.updated_at:
                continue
            key = f"reminder:{booking.id}:{booking.sequence}:{offset}"
            exists = session.scalar(
                select(OutboxMail.id).where(OutboxMail.dedup_key.startswith(key + ":")).limit(1)
            )
            if exists is not None:
                continue
            try:
                with session.begin_nested():
                    Notifier(session, ctx).booking_reminder(booking, offset)
            except IntegrityError:  # another worker queued it first
                continue
            queued += 1
            log.info("booking %s: reminder %s min before queued", booking.id, offset)
    return queued
