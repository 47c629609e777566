"""Delivering the outbox: claim rows with a lease, send each once, record the result.

A pass claims a batch in one short transaction (PostgreSQL ``FOR UPDATE SKIP
LOCKED``, so several workers never take the same row; SQLite has one writer
at a time) by setting ``status = sending`` with a ``lease_until`` and a
``lease_token`` of its own. Each row is then sent and marked ``sent`` in its
own transaction, only if the lease is still ours. A worker that dies leaves
its rows ``sending``; when the lease expires another pass takes them again.

The exact guarantee is in docs/mail.md: a row is handed to the SMTP server
once, except when the worker dies after the server accepted the message and
before the ``sent`` commit; then it is sent again with the same
``Message-ID`` (``<outbox-ID@madoguchi>``), which the receiving side can use
to drop the duplicate.
"""

from __future__ import annotations

import logging
import secrets
import smtplib
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from email.message import EmailMessage
from enum import StrEnum
from typing import Protocol

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Index,
    Integer,
    String,
    Text,
    and_,
    false,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.orm import (
    Mapped,
    Session,
    mapped_column,
    sessionmaker,
)

from app.core.clock import Clock
from app.core.db import Base, is_busy

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
DEFAULT_LEASE = timedelta(minutes=5)


class DeliveryError(Exception):
    """A channel could not deliver a row; it is retried with back-off.

    ``retry_after`` (the platform's ``Retry-After``) delays the next attempt at
    least that long; ``permanent`` (a 4xx other than 429) fails the row at once,
    for an administrator to see, because sending the same again cannot succeed.
    """

    def __init__(
        self, message: str, *, retry_after: timedelta | None = None, permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class Channel(Protocol):
    """Delivers one outbox row; raises ``DeliveryError`` (or ``OSError``) on failure."""

    def deliver(self, row: OutboxMail) -> None: ...


class SmtpMailer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.host, self.port, self.starttls = host, port, starttls
        self.username, self.password = username, password

    def send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=30) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)


def message_id(row_id: int) -> str:
    """Deterministic per row, so a resend after a crash is recognisable."""
    return f"<outbox-{row_id}@madoguchi>"


def build_message(row: OutboxMail, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = row.to_addr
    msg["Subject"] = row.subject
    msg["Message-ID"] = message_id(row.id)
    msg.set_content(row.body)
    if row.ics:
        msg.add_attachment(
            row.ics.encode(),
            maintype="text",
            subtype="calendar",
            filename="booking.ics",
            params={"method": "PUBLISH"},
        )
    return msg


class MailChannel:
    def __init__(self, mailer: Mailer, sender: str) -> None:
        self.mailer, self.sender = mailer, sender

    def deliver(self, row: OutboxMail) -> None:
        try:
            self.mailer.send(build_message(row, self.sender))
        except smtplib.SMTPException as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


# Booking mails that carry the booking's .ics, rendered by the worker before
# delivery (app/booking/notify.py, Notifier.attach_calendars); reminders carry none.
CALENDAR_KINDS = ("booking-confirmed", "booking-rescheduled", "booking-cancelled")


def awaiting_calendar() -> ColumnElement[bool]:
    """Rows whose .ics is not rendered yet (NULL; rendered-but-none is '')."""
    return and_(
        OutboxMail.channel == "mail",
        OutboxMail.kind.in_(CALENDAR_KINDS),
        OutboxMail.booking_id.is_not(None),
        OutboxMail.ics.is_(None),
    )


def _due(now: datetime) -> object:
    pending = and_(
        OutboxMail.status == OutboxStatus.PENDING,
        or_(OutboxMail.next_attempt_at.is_(None), OutboxMail.next_attempt_at <= now),
        # A booking committed after this pass rendered calendars waits for the next.
        not_(awaiting_calendar()),
    )
    abandoned = and_(OutboxMail.status == OutboxStatus.SENDING, OutboxMail.lease_until < now)
    return or_(pending, abandoned)


def claim(
    factory: sessionmaker[Session],
    clock: Clock,
    channels: Mapping[str, Channel],
    *,
    limit: int,
    lease: timedelta,
) -> tuple[str, list[int]]:
    """Take up to ``limit`` due rows for this pass; returns the lease token and their ids."""
    token = secrets.token_hex(16)
    now = clock.now()
    with factory() as session, session.begin():
        ids = list(
            session.scalars(
                select(OutboxMail.id)
                .where(_due(now), OutboxMail.channel.in_(list(channels)))  # type: ignore[arg-type]
                .order_by(OutboxMail.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if ids:
            session.execute(
                update(OutboxMail)
                .where(OutboxMail.id.in_(ids))
                .values(status=OutboxStatus.SENDING, lease_until=now + lease, lease_token=token)
            )
    return token, ids


FINISH_ATTEMPTS = 20


def _finish(
    factory: sessionmaker[Session], row_id: int, token: str, values: dict[str, object]
) -> bool:
    # Recording the outcome of a delivery that happened must not give up on a
    # busy database: an unrecorded send is sent again when the lease runs out.
    for attempt in range(FINISH_ATTEMPTS):
        try:
            with factory() as session, session.begin():
                result = session.execute(
                    update(OutboxMail)
                    .where(OutboxMail.id == row_id, OutboxMail.lease_token == token)
                    .values(**values)
                )
                return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]
        except Exception as exc:
            if not is_busy(exc) or attempt == FINISH_ATTEMPTS - 1:
                raise
            log.warning("outbox %s: database busy while recording the delivery; retrying", row_id)
            time.sleep(0.5)
    raise AssertionError("unreachable")  # pragma: no cover


def deliver_pending(
    factory: sessionmaker[Session],
    channels: Mapping[str, Channel],
    clock: Clock,
    *,
    limit: int = 50,
    lease: timedelta = DEFAULT_LEASE,
) -> int:
    """Deliver what is due through its channel; returns how many were delivered."""
    token, ids = claim(factory, clock, channels, limit=limit, lease=lease)
    sent = 0
    for row_id in ids:
        with factory() as session:
            row = session.get(OutboxMail, row_id)
            if row is None or row.lease_token != token:
                continue
            session.expunge(row)
        if clock.now() >= (row.lease_until or clock.now()):
            # Our lease ran out while earlier rows were sent: another pass owns it now.
            continue
        try:
            channels[row.channel].deliver(row)
        except (OSError, DeliveryError) as exc:
            attempts = row.attempts + 1
            permanent = isinstance(exc, DeliveryError) and exc.permanent
            gave_up = permanent or attempts >= MAX_ATTEMPTS
            wait = backoff(attempts)
            if isinstance(exc, DeliveryError) and exc.retry_after is not None:
                wait = max(wait, exc.retry_after)
            _finish(
                factory,
                row_id,
                token,
                {
                    "attempts": attempts,
                    "last_error": f"{type(exc).__name__}: {exc}"[:500],
                    "status": OutboxStatus.FAILED if gave_up else OutboxStatus.PENDING,
                    "next_attempt_at": clock.now() + wait,
                    "lease_until": None,
                    "lease_token": None,
                },
            )
            log.warning(
                "outbox %s: %s delivery failed (attempt %s%s): %s",
                row_id,
                row.channel,
                attempts,
                ", giving up" if gave_up else "",
                type(exc).__name__,
            )
            continue
        done = _finish(
            factory,
            row_id,
            token,
            {
                "attempts": row.attempts + 1,
                "status": OutboxStatus.SENT,
                "sent_at": clock.now(),
                "lease_until": None,
                "lease_token": None,
            },
        )
        if done:
            sent += 1
            log.info("outbox %s: %s %s delivered", row_id, row.kind, row.channel)
        else:
            log.warning("outbox %s: delivered after losing its lease; may be sent twice", row_id)
    return sent


def retry(session: Session, row_id: int, now: datetime) -> bool:
    """An administrator's retry: a failed or stuck row becomes due now."""
    result = session.execute(
        update(OutboxMail)
        .where(
            OutboxMail.id == row_id,
            OutboxMail.status.in_(
                [OutboxStatus.FAILED, OutboxStatus.SENDING, OutboxStatus.PENDING]
            ),
        )
        .values(
            status=OutboxStatus.PENDING,
            next_attempt_at=now,
            attempts=0,
            lease_until=None,
            lease_token=None,
        )
    )
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def troubled(session: Session, now: datetime, limit: int = 200) -> list[OutboxMail]:
    """Rows an administrator should see: failed, stuck past their lease, or retrying."""
    return list(
        session.scalars(
            select(OutboxMail)
            .where(
                or_(
                    OutboxMail.status == OutboxStatus.FAILED,
                    and_(OutboxMail.status == OutboxStatus.SENDING, OutboxMail.lease_until < now),
                    and_(
                        OutboxMail.status == OutboxStatus.PENDING,
                        OutboxMail.last_error.is_not(None),
                    ),
                )
            )
            .order_by(OutboxMail.id.desc())
            .limit(limit)
        )
    )


class OutboxStatus(StrEnum):
    PENDING = "pending"  # due at ``next_attempt_at`` (or now)
    SENDING = "sending"  # claimed by a worker until ``lease_until``
    SENT = "sent"
    FAILED = "failed"  # gave up after MAX_ATTEMPTS; an administrator may retry
    DROPPED = "dropped"  # no longer relevant (a reminder for a cancelled booking)


class OutboxMail(Base):
    """A notification to deliver, written in the same transaction as the change it reports.

    ``app.core.outbox`` claims rows with a lease and delivers each through its
    channel (``mail`` over SMTP, ``webhook`` to a gateway, ``line`` to a linked LINE user,
    app/line/channel.py); see docs/mail.md
    for the exact delivery guarantee.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("uq_outbox_dedup_key", "dedup_key", unique=True),
        Index("ix_outbox_fanout", "fanned_out", "channel"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    to_addr: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    ics: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    channel: Mapped[str] = mapped_column(String(20), default="mail", server_default="mail")
    status: Mapped[str] = mapped_column(
        String(10), default=OutboxStatus.PENDING, server_default=OutboxStatus.PENDING
    )
    lease_until: Mapped[datetime | None] = mapped_column(nullable=True)
    lease_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    booking_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    locale: Mapped[str] = mapped_column(String(5), default="ja", server_default="ja")
    # Set for mail that must be queued once only (reminders): a unique key.
    dedup_key: Mapped[str | None] = mapped_column(String(120), nullable=True)
    # What a resident's row is about besides a booking, so LINE can add its buttons.
    application_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    waitlist_entry_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # LINE rows: the message's buttons, fixed when queued so a retry sends the same.
    actions: Mapped[list[dict[str, str]] | None] = mapped_column(JSON, nullable=True)
    # A mail row already copied to the LINE users linked to what it is about.
    fanned_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
