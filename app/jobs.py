"""Periodic background work: lapse waiting-list offers, deliver outbox mail,
keep session records current, deliver webhooks, apply the retention period.

``madoguchi worker`` runs these in a loop; the embedded default runs the same
loop inside ``madoguchi serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from app.context import AppContext
from app.mail import Mailer, SmtpMailer, deliver_pending
from app.notify import Notifier
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


def run_once(ctx: AppContext, mailer: Mailer | None) -> int:
    with ctx.writer_sessions() as session:
        svc = SchedulingService(session, tz=ctx.tz)
        offers = svc.expire_offers(ctx.clock.now())
        Notifier(session, ctx).waitlist_offers(offers)
        session.commit()
    tracker_jobs.run_once(ctx)
    if mailer is None:
        return 0
    return deliver_pending(ctx.sessions, mailer, ctx.clock, ctx.settings.mail_from)


async def run_forever(ctx: AppContext, stop: asyncio.Event, interval: float = 5.0) -> None:
    mailer = mailer_from(ctx)
    if mailer is None:
        log.warning("no MADOGUCHI_SMTP_HOST: mail stays in the outbox until one is set")
    while not stop.is_set():
        try:
            await asyncio.to_thread(run_once, ctx, mailer)
        except Exception:  # keep the loop alive; the next pass retries
            log.exception("background pass failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
