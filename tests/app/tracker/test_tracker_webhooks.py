"""Webhooks on status change, delivered to a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select
from tracker_helpers import NOW, MiniCity

from app.core.clock import FixedClock
from app.core.context import AppContext
from app.tracker import webhooks
from app.tracker.audit import Actor
from app.tracker.models import WebhookDelivery
from app.tracker.service import ApplicationService, NewApplication
from app.tracker.status_mail import StatusMail
from app.tracker.webhooks import SIGNATURE_HEADER

SECRET = "shared-webhook-secret"


class Receiver:
    """Answers 500 to the first ``fail_first`` requests, then 204; keeps what it got."""

    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.received: list[tuple[bytes, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((body, self.headers.get(SIGNATURE_HEADER, "")))
                ok = len(receiver.received) > receiver.fail_first
                self.send_response(204 if ok else 500)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail_first=1)
    thread = threading.Thread(target=r.server.serve_forever, daemon=True)
    thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()
    thread.join()


def test_status_changes_reach_the_receiver_signed_with_retries(
    ctx: AppContext, city: MiniCity, receiver: Receiver
) -> None:
    clock = ctx.clock
    assert isinstance(clock, FixedClock)
    actor = Actor(city.staff_ids[0])
    with ctx.sessions() as session:
        svc = ApplicationService(session, StatusMail(session, ctx.links), NOW)
        app = svc.open(NewApplication("転入届", "山田", city.dept_id), actor)
        svc.change_status(app, "in_progress", actor)
        session.commit()
        app_id = app.id

    def deliver() -> int:
        return webhooks.deliver_pending(
            ctx.writer_sessions, receiver.url, SECRET, clock, trust_env=False
        )

    assert deliver() == 0  # the receiver fails the first attempt
    assert deliver() == 0  # not due again yet: back-off
    assert len(receiver.received) == 1
    clock.moment = NOW + timedelta(seconds=6)
    assert deliver() == 1
    assert len(receiver.received) == 2
    body, signature = receiver.received[-1]
    assert webhooks.verify(SECRET, body, signature)
    assert not webhooks.verify("another-secret", body, signature)
    payload = json.loads(body)
    assert payload["event"] == "application.status_changed"
    assert payload["data"]["id"] == app_id and payload["data"]["to"] == "in_progress"
    with ctx.sessions() as session:
        row = session.scalars(select(WebhookDelivery)).one()
        assert row.delivered_at is not None and row.attempts == 2
    # Delivered once: nothing is sent again.
    assert deliver() == 0
    assert len(receiver.received) == 2
