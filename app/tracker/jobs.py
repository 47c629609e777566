"""The tracker's share of each background pass."""

from __future__ import annotations

import logging

from app.core.context import AppContext
from app.tracker import ratings, webhooks
from app.tracker.record_builder import RecordBuilder
from app.tracker.retention import apply_retention

log = logging.getLogger(__name__)


def run_once(ctx: AppContext) -> None:
    now = ctx.clock.now()
    with ctx.writer_sessions() as session:
        builder = RecordBuilder(session)
        touched = builder.sync_due(now) + builder.sync_walk_ins(now)
        ratings.queue_requests(session, ctx.links, now)
        session.commit()
    if touched:
        log.debug("session records: %d refreshed", touched)
    s = ctx.settings
    if s.retention_days:
        with ctx.writer_sessions() as session:
            apply_retention(session, now, s.retention_days, s.effective_secret)
            session.commit()
    webhooks.deliver_pending(
        ctx.writer_sessions, s.tracker_webhook_url, s.tracker_webhook_secret, ctx.clock
    )
