"""Copy the resident's outbox mail to the LINE users linked to what it is about.

Runs in the jobs loop, after the change that queued the mail committed: each
mail row about a booking, application or waiting-list entry gets one ``line``
row per active link, with the buttons for it. The ``dedup_key``
``line:{mail row}:{user}`` is unique, so a pass repeated after a crash adds
nothing twice; the mail row is then marked ``fanned_out``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.core.i18n import gettext
from app.core.links import Links
from app.core.outbox import OutboxMail, OutboxStatus
from app.line.messages import postback, uri
from app.line.models import LineLink
from app.tracker.models import Application
from scheduler.models import Booking, WaitlistEntry

BOOKING_KINDS = frozenset(
    {"booking-confirmed", "booking-rescheduled", "booking-reminder", "booking-cancelled"}
)
APPLICATION_KINDS = frozenset({"application-opened", "application-status", "application-document"})
WAITLIST_KINDS = frozenset({"waitlist-offer"})
RATING_KINDS = frozenset({"rating-request"})
KINDS = BOOKING_KINDS | APPLICATION_KINDS | WAITLIST_KINDS | RATING_KINDS


def booking_actions(booking: Booking, links: Links, locale: str) -> list[dict[str, str]]:
    return [
        uri(gettext(locale, "Join the call"), links.join_url(booking)),
        uri(gettext(locale, "Change or cancel"), links.manage_url(booking)),
        uri(gettext(locale, "Add to calendar"), links.ics_url(booking)),
    ]


def _actions(session: Session, row: OutboxMail, links: Links) -> list[dict[str, str]] | None:
    if row.actions:
        return row.actions
    loc = row.locale
    if row.kind in BOOKING_KINDS and row.booking_id is not None:
        if row.kind == "booking-cancelled":
            return None
        booking = session.get(Booking, row.booking_id)
        return booking_actions(booking, links, loc) if booking is not None else None
    if row.kind in WAITLIST_KINDS and row.waitlist_entry_id is not None:
        entry = session.get(WaitlistEntry, row.waitlist_entry_id)
        if entry is None or entry.offer_expires_at is None:
            return None
        return [
            postback(gettext(loc, "Book this time"), f"action=claim&entry={entry.id}"),
            uri(gettext(loc, "See the offer"), links.waitlist_claim_url(entry)),
        ]
    if row.kind in APPLICATION_KINDS and row.application_id is not None:
        application = session.get(Application, row.application_id)
        if application is None:
            return None
        url = links.application_url(application.id, application.reference)
        return [uri(gettext(loc, "See the application"), url)]
    return None


def _linked_users(session: Session, row: OutboxMail) -> list[str]:
    conditions = []
    if row.booking_id is not None:
        conditions.append(LineLink.booking_id == row.booking_id)
    if row.application_id is not None:
        conditions.append(LineLink.application_id == row.application_id)
    if row.waitlist_entry_id is not None:
        conditions.append(LineLink.waitlist_entry_id == row.waitlist_entry_id)
    if not conditions:
        return []
    return sorted(
        set(
            session.scalars(
                select(LineLink.line_user_id).where(LineLink.active.is_(True), or_(*conditions))
            )
        )
    )


def fan_out(session: Session, links: Links, now: datetime, *, limit: int = 500) -> int:
    """Queue LINE copies of mail rows not fanned out yet; returns how many were queued."""
    rows = session.scalars(
        select(OutboxMail)
        .where(OutboxMail.fanned_out.is_(False), OutboxMail.channel == "mail")
        .order_by(OutboxMail.id)
        .limit(limit)
    ).all()
    queued = 0
    for row in rows:
        row.fanned_out = True
        if row.kind not in KINDS or row.status == OutboxStatus.DROPPED:
            continue
        users = _linked_users(session, row)
        if not users:
            continue
        actions = _actions(session, row, links)
        for user in users:
            session.add(
                OutboxMail(
                    kind=row.kind,
                    channel="line",
                    to_addr=user,
                    subject=row.subject,
                    body=row.body,
                    created_at=now,
                    attempts=0,
                    status=OutboxStatus.PENDING,
                    locale=row.locale,
                    booking_id=row.booking_id,
                    application_id=row.application_id,
                    waitlist_entry_id=row.waitlist_entry_id,
                    actions=actions,
                    fanned_out=True,
                    dedup_key=f"line:{row.id}:{user}",
                )
            )
            queued += 1
    session.flush()
    return queued
