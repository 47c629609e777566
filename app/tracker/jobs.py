"""The tracker's share of each background pass."""

from __future__ import annotations

import logging

from sqlalchemy import select

from app.core.context import AppContext
from app.core.db import chunks
from app.counter.models import QueueTicket
from app.tracker import ratings, webhooks
from app.tracker.record_builder import RecordBuilder
from app.tracker.retention import apply_retention
from scheduler.models import Booking

log = logging.getLogger(__name__)
# Records written per write transaction: each takes a few milliseconds.
WRITE_BATCH = 25


def run_once(ctx: AppContext) -> None:
    now = ctx.clock.now()
    # Decide by reading (no lock); write only what changes, a few records per
    # write transaction, so requests never queue behind a long pass on SQLite.
    with ctx.sessions() as session:
        stale = RecordBuilder(session).stale(now)
    for chunk in chunks(stale.bookings, WRITE_BATCH):
        with ctx.writer_sessions() as session:
            builder = RecordBuilder(session)
            for booking in session.scalars(select(Booking).where(Booking.id.in_(chunk))):
                builder.sync_booking(booking, now)
            session.commit()
    for chunk in chunks(stale.tickets, WRITE_BATCH):
        with ctx.writer_sessions() as session:
            tickets = session.scalars(select(QueueTicket).where(QueueTicket.id.in_(chunk)))
            RecordBuilder(session).sync_tickets(tickets, now)
            session.commit()
    touched = len(stale.bookings) + len(stale.tickets)
    if touched:
        log.debug("session records: %d refreshed", touched)
    with ctx.writer_sessions() as session:
        ratings.queue_requests(session, ctx.links, now)
        session.commit()
    s = ctx.settings
    if s.retention_days:
        with ctx.writer_sessions() as session:
            apply_retention(session, now, s.retention_days, s.effective_secret)
            session.commit()
    webhooks.deliver_pending(
        ctx.writer_sessions, s.tracker_webhook_url, s.tracker_webhook_secret, ctx.clock
    )
