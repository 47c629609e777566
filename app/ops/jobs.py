"""Periodic background work: lapse waiting-list offers, queue reminders, deliver the
outbox, delete call documents past their retention (app/calls/documents.py), keep
session records current, deliver tracker webhooks, apply the retention period.

``madoguchi worker`` runs these in a loop; the embedded default runs the same
loop inside ``madoguchi serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from app.booking.notify import Notifier
from app.booking.reminders import queue_reminders
from app.calls.documents import Documents
from app.core.context import AppContext
from app.core.outbox import Channel, MailChannel, Mailer, SmtpMailer, deliver_pending
from app.core.webhook import WebhookChannel
from app.counter.settings import CounterSettings
from app.line.channel import LineChannel
from app.line.client import messaging_api
from app.line.fanout import fan_out
from app.line.service import process_events
from app.tracker import jobs as tracker_jobs
from scheduler.service import SchedulingService

log = logging.getLogger(__name__)


def mailer_from(ctx: AppContext) -> Mailer | None:
    s = ctx.settings
    if not s.smtp_host:
        return None
    return SmtpMailer(
        s.smtp_host,
        s.smtp_port,
        starttls=s.smtp_starttls,
        username=s.smtp_username,
        password=s.smtp_password,
    )


def channels_from(ctx: AppContext, mailer: Mailer | None) -> dict[str, Channel]:
    s = ctx.settings
    channels: dict[str, Channel] = {}
    if mailer is not None:
        channels["mail"] = MailChannel(mailer, s.mail_from)
    if s.webhook_url:
        if not s.webhook_secret:
            log.warning("MADOGUCHI_WEBHOOK_URL without MADOGUCHI_WEBHOOK_SECRET: webhook off")
        else:
            channels["webhook"] = WebhookChannel(s.webhook_url, s.webhook_secret, ctx.clock)
    if s.line_channel_access_token:
        channels["line"] = LineChannel(
            messaging_api(s), ctx.writer_sessions, ctx.clock, base_url=s.public_base_url
        )
    return channels


def run_once(
    ctx: AppContext, mailer: Mailer | None, channels: dict[str, Channel] | None = None
) -> int:
    """One pass; returns how many outbox rows were delivered."""
    if ctx.settings.line_channel_secret:
        process_events(
            ctx.writer_sessions,
            ctx,
            CounterSettings(),
            lambda session, booking: Notifier(session, ctx).booking_confirmed(booking),
        )
    with ctx.writer_sessions() as session:
        now = ctx.clock.now()
        svc = SchedulingService(session, tz=ctx.tz)
        offers = svc.expire_offers(now)
        Notifier(session, ctx).waitlist_offers(offers)
        retention = timedelta(days=ctx.settings.document_retention_days)
        Documents(session, retention).purge(now)
        queue_reminders(session, ctx, now)
        Notifier(session, ctx).attach_calendars()
        fan_out(session, ctx.links, now)
        session.commit()
    tracker_jobs.run_once(ctx)
    if channels is None:
        channels = channels_from(ctx, mailer)
    if not channels:
        return 0
    lease = timedelta(seconds=ctx.settings.mail_lease_seconds)
    return deliver_pending(ctx.writer_sessions, channels, ctx.clock, lease=lease)


async def run_forever(ctx: AppContext, stop: asyncio.Event, interval: float = 5.0) -> None:
    mailer = mailer_from(ctx)
    if mailer is None:
        log.warning("no MADOGUCHI_SMTP_HOST: mail stays in the outbox until one is set")
    channels = channels_from(ctx, mailer)
    while not stop.is_set():
        try:
            await asyncio.to_thread(run_once, ctx, mailer, channels)
        except Exception:  # keep the loop alive; the next pass retries
            log.exception("background pass failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
