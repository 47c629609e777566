"""The retention period: personal data older than it is erased or pseudonymised.

Statistics survive: session records keep their times, channel, department
and outcome; applications keep reference, procedure, status, dates and
timeline kinds. Only what names or describes a person goes: resident names
become a stable pseudonym (the same name gives the same pseudonym, so counts
of repeat visits still work), e-mail addresses, notes, messages and uploaded
files are erased. Applications still open are never touched.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.calls.models import Consultation
from app.tracker.audit import Actor, audit
from app.tracker.models import Application, ApplicationDocument, ApplicationEvent, SessionRecord
from app.tracker.workflow import FINAL
from scheduler.models import Booking

log = logging.getLogger(__name__)

ERASED = "(erased)"


@dataclass(frozen=True, slots=True)
class RetentionReport:
    cutoff: datetime
    records: int = 0
    bookings: int = 0
    applications: int = 0
    documents: int = 0

    @property
    def total(self) -> int:
        return self.records + self.bookings + self.applications + self.documents

    def summary(self) -> str:
        return (
            f"retention before {self.cutoff.isoformat()}: {self.records} records, "
            f"{self.bookings} bookings, {self.applications} applications, "
            f"{self.documents} documents"
        )


def pseudonym(secret: str, name: str) -> str:
    digest = hmac.new(secret.encode(), name.encode(), hashlib.sha256).hexdigest()
    return f"R-{digest[:12]}"


def apply_retention(session: Session, now: datetime, days: int, secret: str) -> RetentionReport:
    """Erase what is older than ``days``; the caller commits. ``days`` 0 does nothing."""
    cutoff = now - timedelta(days=days)
    if days <= 0:
        return RetentionReport(cutoff)
    old_records = list(
        session.scalars(
            select(SessionRecord).where(
                SessionRecord.started_at < cutoff,
                SessionRecord.closed.is_(True),
                SessionRecord.notes != "",
            )
        )
    )
    for record in old_records:
        record.notes = ""
    if old_records:
        # The wrap-up the notes were copied from (walk-in calls have no booking).
        session.execute(
            update(Consultation)
            .where(Consultation.room.in_([r.room for r in old_records]))
            .values(notes="")
        )
    old_bookings = list(
        session.scalars(
            select(Booking).where(Booking.end_at < cutoff, Booking.resident_name != ERASED)
        )
    )
    for booking in old_bookings:
        booking.resident_name = ERASED
        booking.resident_email = None
        booking.resident_phone = None
    if old_bookings:
        session.execute(
            update(Consultation)
            .where(Consultation.booking_id.in_([b.id for b in old_bookings]))
            .values(notes="")
        )
    old_apps = list(
        session.scalars(
            select(Application).where(
                Application.updated_at < cutoff,
                Application.pseudonymised.is_(False),
                Application.status.in_([s.value for s in FINAL]),
            )
        )
    )
    documents = 0
    for app in old_apps:
        app.resident_name = pseudonym(secret, app.resident_name)
        app.resident_email = None
        app.notes = ""
        app.pseudonymised = True
        session.execute(
            update(ApplicationEvent)
            .where(ApplicationEvent.application_id == app.id)
            .values(message="")
        )
        result = session.execute(
            update(ApplicationDocument)
            .where(
                ApplicationDocument.application_id == app.id,
                or_(
                    ApplicationDocument.data.is_not(None), ApplicationDocument.filename.is_not(None)
                ),
            )
            .values(data=None, filename=None, erased_at=now)
        )
        documents += result.rowcount or 0  # type: ignore[attr-defined]
    report = RetentionReport(cutoff, len(old_records), len(old_bookings), len(old_apps), documents)
    if report.total:
        audit(session, Actor(None), "erase", "retention", "-", now, report.summary())
        log.info("%s", report.summary())
    session.flush()
    return report
