"""The tracker's share of each background pass."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

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


def _raced(session: Session) -> None:
    """Another app process's jobs loop created one of these records first (one
    record per room is unique): its record stands, and the next pass, reading
    it, refreshes what this one would have."""
    session.rollback()
    log.info("session records: another process wrote this batch first; next pass")


def run_once(ctx: AppContext) -> None:
    now = ctx.clock.now()
    # Decide by reading (no lock); write only what changes, a few records per
    # write transaction, so requests never queue behind a long pass on SQLite.
    with ctx.sessions() as session:
        stale = RecordBuilder(session).stale(now)
    for chunk in chunks(stale.bookings, WRITE_BATCH):
        with ctx.writer_sessions() as session:
            builder = RecordBuilder(session)
            try:
                for booking in session.scalars(select(Booking).where(Booking.id.in_(chunk))):
                    builder.sync_booking(booking, now)
                session.commit()
            except IntegrityError:
                _raced(session)
    for chunk in chunks(stale.tickets, WRITE_BATCH):
        with ctx.writer_sessions() as session:
            try:
                tickets = session.scalars(select(QueueTicket).where(QueueTicket.id.in_(chunk)))
                RecordBuilder(session).sync_tickets(tickets, now)
                session.commit()
            except IntegrityError:
                _raced(session)
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
