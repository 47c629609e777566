"""The outbox: reminders, leases, retries, the admin view and the webhook channel.

Mail goes to a real SMTP server (aiosmtpd) and webhooks to a real HTTP server,
both on 127.0.0.1; the clock is fixed and moved by hand.
"""

from __future__ import annotations

import email.header
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from admin_page_helpers import csrf_of, login  # type: ignore[import-not-found]
from fastapi.testclient import TestClient
from smtp_inbox import Inbox, smtp_server  # type: ignore[import-not-found]
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from tests_app_helpers import book  # type: ignore[import-not-found]

from app.booking.reminders import due_reminders, queue_reminder, reminder_offsets
from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.outbox import (
    MAX_ATTEMPTS,
    MailChannel,
    OutboxMail,
    OutboxStatus,
    SmtpMailer,
    claim,
    deliver_pending,
    message_id,
)
from app.core.webhook import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from app.ops import jobs

TEN = "2026-12-01T10:00:00+09:00"  # booked at NOW, Monday 2026-11-30 09:00 JST
LATER = "2026-12-10T10:00:00+09:00"  # no reminder due while the test moves the clock
HOOK_SECRET = "hook-secret-for-tests"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


def rows(ctx: AppContext) -> list[OutboxMail]:
    with Session(ctx.engine) as s:
        return list(s.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def subject(msg: Any) -> str:
    return str(email.header.make_header(email.header.decode_header(msg["Subject"])))


def kinds_sent(ctx: AppContext) -> list[str]:
    return [r.kind for r in rows(ctx) if r.status == OutboxStatus.SENT]


def test_reminders_go_once_each_at_their_offsets(
    client: TestClient, city, ctx: AppContext, clock: FixedClock, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    mailer = SmtpMailer("127.0.0.1", port)
    book(client, city.consult_id, TEN)
    assert jobs.run_once(ctx, mailer) == 1  # the confirmation only
    clock.moment += timedelta(hours=1, minutes=1)  # the day before, 10:01
    assert jobs.run_once(ctx, mailer) == 1
    assert jobs.run_once(ctx, mailer) == 0  # once only
    clock.moment += timedelta(hours=22, minutes=30)  # 12-01 08:31: not yet 30 min before
    assert jobs.run_once(ctx, mailer) == 0
    clock.moment += timedelta(minutes=59)  # 09:30
    assert jobs.run_once(ctx, mailer) == 1
    clock.moment += timedelta(minutes=10)
    assert jobs.run_once(ctx, mailer) == 0
    subjects = [subject(m) for m in inbox.messages]
    assert "ご予約を受け付けました" in subjects[0]
    assert "ご予約日時のお知らせ" in subjects[1]
    assert "まもなくご予約の時間です" in subjects[2]
    assert len(subjects) == 3
    # Reminders carry no .ics (the confirmation did); both point at the booking.
    assert [m.is_multipart() for m in inbox.messages] == [True, False, False]


def test_no_reminder_for_a_cancelled_booking(
    client: TestClient, city, ctx: AppContext, clock: FixedClock, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    token = book(client, city.consult_id, TEN).json()["manage_url"].rsplit("/", 1)[1]
    clock.moment += timedelta(hours=1, minutes=1)
    jobs.run_once(ctx, None)  # the day-before reminder is queued, nobody sends it
    assert client.post(f"/api/v1/bookings/{token}/cancel").status_code == 200
    clock.moment += timedelta(hours=23)
    assert jobs.run_once(ctx, SmtpMailer("127.0.0.1", port)) == 2
    assert [r.kind for r in rows(ctx) if r.status == OutboxStatus.SENT] == [
        "booking-confirmed",
        "booking-cancelled",
    ]
    assert [r.status for r in rows(ctx) if r.kind == "booking-reminder"] == ["dropped"]
    cancelled = inbox.messages[-1]
    ics = next(p for p in cancelled.walk() if p.get_content_type() == "text/calendar")
    assert "STATUS:CANCELLED" in ics.get_payload(decode=True).decode()


def test_reschedule_rearms_reminders_in_the_residents_language(
    client: TestClient, city, ctx: AppContext, clock: FixedClock, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    mailer = SmtpMailer("127.0.0.1", port)
    token = book(client, city.consult_id, TEN, locale="en").json()["manage_url"].rsplit("/", 1)[1]
    clock.moment += timedelta(hours=1, minutes=1)
    assert jobs.run_once(ctx, mailer) == 2  # confirmation and the day-before reminder
    moved = client.post(
        f"/api/v1/bookings/{token}/reschedule", json={"start": "2026-12-02T10:00:00+09:00"}
    )
    assert moved.status_code == 200, moved.text
    assert jobs.run_once(ctx, mailer) == 1  # the change notice
    clock.moment += timedelta(hours=24)  # 12-01 10:01: the day before the new time
    assert jobs.run_once(ctx, mailer) == 1
    clock.moment += timedelta(hours=23, minutes=30)  # 12-02 09:31
    assert jobs.run_once(ctx, mailer) == 1
    assert kinds_sent(ctx) == [
        "booking-confirmed",
        "booking-reminder",
        "booking-rescheduled",
        "booking-reminder",
        "booking-reminder",
    ]
    subjects = [subject(m) for m in inbox.messages]
    assert "Your booking was moved" in subjects[2]
    assert "A reminder of your appointment" in subjects[3]
    assert "Your appointment starts soon" in subjects[4]
    assert "Wed 02 Dec 2026, 10:00" in inbox.messages[4].get_payload()


def test_a_crashed_workers_lease_expires_and_the_mail_goes_once(
    client: TestClient, city, ctx: AppContext, clock: FixedClock, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    channels = {"mail": MailChannel(SmtpMailer("127.0.0.1", port), "city@example.jp")}
    book(client, city.consult_id, TEN)
    lease = timedelta(minutes=5)
    # Not claimable until a worker's pass has rendered its .ics.
    assert claim(ctx.writer_sessions, clock, channels, limit=10, lease=lease)[1] == []
    jobs.run_once(ctx, None)  # renders the calendar; no channel, so nothing is sent
    # A worker claims the row and dies before sending: the row stays "sending".
    _, ids = claim(ctx.writer_sessions, clock, channels, limit=10, lease=lease)
    assert len(ids) == 1
    assert deliver_pending(ctx.writer_sessions, channels, clock, lease=lease) == 0
    assert inbox.messages == []
    clock.moment += lease + timedelta(seconds=1)
    assert deliver_pending(ctx.writer_sessions, channels, clock, lease=lease) == 1
    assert deliver_pending(ctx.writer_sessions, channels, clock, lease=lease) == 0
    assert inbox.message_ids() == [message_id(ids[0])]
    (row,) = rows(ctx)
    assert (row.status, row.attempts, row.lease_token) == ("sent", 1, None)


def test_failures_back_off_then_show_to_admins_who_can_retry(
    client: TestClient, city, ctx: AppContext, clock: FixedClock, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    refused = SmtpMailer("127.0.0.1", port)
    inbox.before_accept = lambda _msg: "554 mailbox unavailable"
    book(client, city.consult_id, LATER)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert jobs.run_once(ctx, refused) == 0
        (row,) = rows(ctx)
        assert row.attempts == attempt
        assert jobs.run_once(ctx, refused) == 0  # backing off: not tried again yet
        assert rows(ctx)[0].attempts == attempt
        clock.moment += timedelta(hours=1, seconds=1)
    (row,) = rows(ctx)
    assert row.status == OutboxStatus.FAILED and "554" in (row.last_error or "")

    login(client)
    page = client.get("/admin/outbox")
    assert page.status_code == 200
    assert "hanako@example.jp" in page.text and "554" in page.text
    inbox.before_accept = None
    r = client.post(
        f"/admin/outbox/{row.id}/retry",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert jobs.run_once(ctx, refused) == 1
    assert rows(ctx)[0].status == OutboxStatus.SENT
    assert "hanako@example.jp" not in client.get("/admin/outbox").text


class Gateway(BaseHTTPRequestHandler):
    """A stand-in LINE/SMS gateway: checks the signature, records, answers as told."""

    received: list[dict[str, Any]]
    answers: list[int]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = verify(
            HOOK_SECRET, self.headers[TIMESTAMP_HEADER], body, self.headers[SIGNATURE_HEADER]
        )
        status = self.answers.pop(0) if self.answers else 200
        if not ok:
            status = 401
        if status == 200:
            self.received.append({"delivery": self.headers[DELIVERY_HEADER], **json.loads(body)})
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[tuple[type[Gateway], str]]:
    handler = type("TestGateway", (Gateway,), {"received": [], "answers": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler, f"http://127.0.0.1:{server.server_address[1]}/notify"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("secret", [HOOK_SECRET, "a-wrong-secret"])
def test_webhook_channel_posts_signed_json_and_retries(
    client: TestClient,
    city,
    ctx: AppContext,
    clock: FixedClock,
    gateway: tuple[type[Gateway], str],
    secret: str,
) -> None:
    handler, url = gateway
    ctx.settings.webhook_url = url
    ctx.settings.webhook_secret = secret
    handler.answers = [503]
    book(client, city.consult_id, TEN, phone="090-1234-5678")
    assert jobs.run_once(ctx, None) == 0  # the gateway answered 503
    webhook_row = next(r for r in rows(ctx) if r.channel == "webhook")
    expected = 503 if secret == HOOK_SECRET else 401  # a bad signature is refused
    assert webhook_row.last_error == f"DeliveryError: HTTP {expected}"
    assert next(r for r in rows(ctx) if r.channel == "mail").status == "pending"  # no SMTP
    clock.moment += timedelta(minutes=1)
    if secret != HOOK_SECRET:
        assert jobs.run_once(ctx, None) == 0  # refused: 401
        assert handler.received == []
        return
    assert jobs.run_once(ctx, None) == 1
    (got,) = handler.received
    assert got["delivery"] == got["id"] == f"outbox-{webhook_row.id}"
    assert got["to"] == "090-1234-5678"
    assert got["kind"] == "booking-confirmed" and got["locale"] == "ja"
    assert "ご予約を受け付けました" in got["subject"]


def test_the_worker_renders_the_calendar_file_of_queued_booking_mail(
    client: TestClient, city, ctx: AppContext, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    token = book(client, city.consult_id, TEN).json()["manage_url"].rsplit("/", 1)[1]
    (queued,) = rows(ctx)
    assert queued.kind == "booking-confirmed" and queued.ics is None  # not in the request
    # Cancelled before the worker ran: both files show the booking as it is now.
    assert client.post(f"/api/v1/bookings/{token}/cancel").status_code == 200
    assert jobs.run_once(ctx, SmtpMailer("127.0.0.1", port)) == 2
    stored = [r.ics for r in rows(ctx)]
    assert all(ics is not None and "STATUS:CANCELLED" in ics for ics in stored), stored
    sent = [
        next(p for p in m.walk() if p.get_content_type() == "text/calendar")
        .get_payload(decode=True)
        .decode()
        for m in inbox.messages
    ]
    assert [s.replace("\r\n", "\n") for s in sent] == [
        s.replace("\r\n", "\n") for s in stored if s is not None
    ]
    assert all("SEQUENCE:1" in s for s in sent)


def test_a_booking_mail_of_an_erased_booking_goes_without_a_calendar(
    client: TestClient, city, ctx: AppContext, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    book(client, city.consult_id, TEN)
    with Session(ctx.engine) as session:
        # The booking row is gone before the worker ran (e.g. erased): the mail still goes.
        session.execute(update(OutboxMail).values(booking_id=None))
        session.commit()
    assert jobs.run_once(ctx, SmtpMailer("127.0.0.1", port)) == 1
    (msg,) = inbox.messages
    assert [
        p.get_content_type() for p in msg.walk() if p.get_content_type() == "text/calendar"
    ] == []


def test_due_reminders_are_found_by_reading_and_listed_until_queued(
    client: TestClient, city, ctx: AppContext, clock: FixedClock
) -> None:
    # The jobs loop lists due reminders outside a write transaction, then queues
    # them in small write batches: the list must drop what was queued.
    book(client, city.consult_id, TEN)
    offsets = reminder_offsets(ctx)
    with Session(ctx.engine) as s:
        assert due_reminders(s, offsets, clock.now()) == []  # booked inside the window
    clock.moment += timedelta(hours=1, minutes=1)  # the day before, 10:01
    with Session(ctx.engine) as s:
        due = due_reminders(s, offsets, clock.now())
        assert [offset for _, offset in due] == [max(offsets)]
        booking_id, offset = due[0]
        assert queue_reminder(s, ctx, booking_id, offset)
        s.commit()
    with Session(ctx.engine) as s:
        assert due_reminders(s, offsets, clock.now()) == []
        # A second worker that read the list before the commit queues nothing twice.
        assert not queue_reminder(s, ctx, booking_id, offset)
    assert [r.kind for r in rows(ctx)].count("booking-reminder") == 1
