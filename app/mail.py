"""Delivering outbox mail over SMTP.

Each row is claimed, sent and marked in its own short transaction; a failed
send is retried with back-off and its error kept for administrators.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta
from email.message import EmailMessage
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import Clock
from scheduler.orm import OutboxMail

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


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


def build_message(row: OutboxMail, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = row.to_addr
    msg["Subject"] = row.subject
    msg["Message-ID"] = f"<outbox-{row.id}@madoguchi>"
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


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def deliver_pending(
    factory: sessionmaker[Session], mailer: Mailer, clock: Clock, sender: str, *, limit: int = 50
) -> int:
    """Send what is due; returns how many were sent."""
    sent = 0
    with factory() as session:
        due = session.scalars(
            select(OutboxMail.id)
            .where(
                OutboxMail.sent_at.is_(None),
                OutboxMail.attempts < MAX_ATTEMPTS,
                or_(
                    OutboxMail.next_attempt_at.is_(None), OutboxMail.next_attempt_at <= clock.now()
                ),
            )
            .order_by(OutboxMail.id)
            .limit(limit)
        ).all()
    for mail_id in due:
        with factory() as session, session.begin():
            row = session.get(OutboxMail, mail_id, with_for_update=True)
            if row is None or row.sent_at is not None:
                continue
            try:
                mailer.send(build_message(row, sender))
            except (OSError, smtplib.SMTPException) as exc:
                row.attempts += 1
                row.last_error = f"{type(exc).__name__}: {exc}"[:500]
                row.next_attempt_at = clock.now() + backoff(row.attempts)
                log.warning(
                    "outbox %s: send failed (attempt %s): %s",
                    row.id,
                    row.attempts,
                    type(exc).__name__,
                )
                continue
            row.attempts += 1
            row.sent_at = clock.now()
            sent += 1
            log.info("outbox %s: sent %s", row.id, row.kind)
    return sent
