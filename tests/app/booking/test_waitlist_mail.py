"""Waiting list offers and outbox mail, delivered to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import email.header
import socket
from collections.abc import Iterator
from datetime import timedelta
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests_app_helpers import book  # type: ignore[import-not-found]

from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.outbox import OutboxMail, SmtpMailer
from app.ops import jobs

TEN = "2026-12-01T10:00:00+09:00"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.original_content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def outbox(ctx: AppContext) -> list[OutboxMail]:
    with Session(ctx.engine) as s:
        return list(s.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def claim_path(body: str) -> str:
    url = next(w for w in body.split() if "/waitlist/offers/" in w)
    token = url.rsplit("/", 1)[1]
    return f"/api/v1/waitlist/offers/{token}/claim"


def test_confirmation_mail_with_ics_reaches_the_smtp_server(
    client: TestClient, city, ctx: AppContext, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    code = book(client, city.consult_id, TEN).json()["code"]
    assert jobs.run_once(ctx, SmtpMailer("127.0.0.1", port)) == 1
    assert jobs.run_once(ctx, SmtpMailer("127.0.0.1", port)) == 0  # sent once only
    (msg,) = inbox.messages
    assert msg["To"] == "hanako@example.jp"
    assert "ご予約を受け付けました" in str(
        email.header.make_header(email.header.decode_header(msg["Subject"]))
    )
    parts = {p.get_content_type(): p for p in msg.walk()}
    text = parts["text/plain"].get_payload(decode=True).decode()
    assert code in text and "2026年12月1日(火) 10:00〜10:30" in text
    ics = parts["text/calendar"].get_payload(decode=True).decode()
    assert "BEGIN:VEVENT" in ics and "STATUS:CONFIRMED" in ics


def test_failed_send_is_kept_and_retried_later(
    client: TestClient, city, ctx: AppContext, clock: FixedClock, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    book(client, city.consult_id, TEN)
    closed = SmtpMailer("127.0.0.1", 1)  # nothing listens on port 1
    assert jobs.run_once(ctx, closed) == 0
    (row,) = outbox(ctx)
    assert row.sent_at is None and row.attempts == 1 and row.last_error
    assert jobs.run_once(ctx, SmtpMailer("127.0.0.1", port)) == 0  # backing off
    clock.moment += timedelta(minutes=5)
    assert jobs.run_once(ctx, SmtpMailer("127.0.0.1", port)) == 1
    assert len(inbox.messages) == 1


def test_cancelled_slot_is_offered_in_order_and_passes_on_when_not_taken(
    client: TestClient, city, ctx: AppContext, clock: FixedClock
) -> None:
    tokens = [
        book(client, city.consult_id, TEN).json()["manage_url"].rsplit("/", 1)[1] for _ in range(3)
    ]
    for i in range(2):
        r = client.post(
            "/api/v1/waitlist",
            json={
                "service_id": city.consult_id,
                "day": "2026-12-01",
                "name": f"待ち{i}",
                "email": f"wait{i}@example.jp",
            },
        )
        assert r.status_code == 201
    dup = client.post(
        "/api/v1/waitlist",
        json={
            "service_id": city.consult_id,
            "day": "2026-12-01",
            "name": "待ち0",
            "email": "wait0@example.jp",
        },
    )
    assert dup.status_code == 422

    assert client.post(f"/api/v1/bookings/{tokens[0]}/cancel").status_code == 200
    offers = [m for m in outbox(ctx) if m.kind == "waitlist-offer"]
    assert [m.to_addr for m in offers] == ["wait0@example.jp"]
    first_claim = claim_path(offers[0].body)

    # Not taken within two hours: it lapses and passes to the next person.
    clock.moment += timedelta(hours=2, minutes=1)
    jobs.run_once(ctx, None)
    offers = [m for m in outbox(ctx) if m.kind == "waitlist-offer"]
    assert [m.to_addr for m in offers] == ["wait0@example.jp", "wait1@example.jp"]
    late = client.post(first_claim)
    assert late.status_code == 410  # the link itself has expired

    r = client.post(claim_path(offers[1].body))
    assert r.status_code == 201, r.text
    assert r.json()["start"] == TEN
    assert client.post(claim_path(offers[1].body)).status_code == 409
