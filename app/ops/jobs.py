"""Periodic background work: lapse waiting-list offers, queue reminders, deliver the
outbox, delete call documents past their retention (app/calls/documents.py), keep
session records current, deliver tracker webhooks, apply the retention period
(applications, then their forms).

``madoguchi worker`` runs these in a loop; the embedded default runs the same
loop inside ``madoguchi serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from app.booking.notify import Notifier
from app.booking.reminders import due_reminders, queue_reminder, reminder_offsets
from app.calls.documents import Documents
from app.core.context import AppContext
from app.core.db import chunks, is_busy
from app.core.outbox import Channel, MailChannel, Mailer, SmtpMailer, deliver_pending
from app.core.webhook import WebhookChannel
from app.counter.settings import CounterSettings
from app.forms import jobs as forms_jobs
from app.line.channel import LineChannel
from app.line.client import messaging_api
from app.line.fanout import fan_out
from app.line.service import process_events
from app.tracker import jobs as tracker_jobs
from scheduler.service import SchedulingService

log = logging.getLogger(__name__)
# Calendar files rendered per write transaction (rendering takes CPU, under the lock).
CALENDAR_BATCH = 20
# Reminders queued per write transaction (each renders a mail).
REMINDER_BATCH = 50


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
    # Several short write transactions rather than one long one: on SQLite every
    # request waits while the jobs loop holds the write lock.
    now = ctx.clock.now()
    if ctx.settings.line_channel_secret:
        process_events(
            ctx.writer_sessions,
            ctx,
            CounterSettings.of(ctx.settings),
            lambda session, booking: Notifier(session, ctx).booking_confirmed(booking),
        )
    with ctx.writer_sessions() as session:
        svc = SchedulingService(session, tz=ctx.tz)
        offers = svc.expire_offers(now)
        Notifier(session, ctx).waitlist_offers(offers)
        session.commit()
    with ctx.writer_sessions() as session:
        retention = timedelta(days=ctx.settings.document_retention_days)
        Documents(session, retention).purge(now)
        session.commit()
    with ctx.sessions() as session:
        due = due_reminders(session, reminder_offsets(ctx), now)
    for batch in chunks(due, REMINDER_BATCH):
        with ctx.writer_sessions() as session:
            for booking_id, offset in batch:
                queue_reminder(session, ctx, booking_id, offset)
            session.commit()
    with ctx.writer_sessions() as session:
        # Mail the outbox queued, copied to the residents' linked LINE accounts.
        fan_out(session, ctx.links, now)
        session.commit()
    while True:
        with ctx.writer_sessions() as session:
            rendered = Notifier(session, ctx).attach_calendars(limit=CALENDAR_BATCH)
            session.commit()
        if rendered < CALENDAR_BATCH:
            break
    tracker_jobs.run_once(ctx)
    # After the tracker's: a form is erased with its pseudonymised application.
    forms_jobs.run_once(ctx)
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
        except Exception as exc:  # keep the loop alive; the next pass retries
            if is_busy(exc):
                log.warning("background pass postponed: the database is busy")
            else:
                log.exception("background pass failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
