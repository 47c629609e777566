"""Documents at the counter: consent-gated photos, pushed documents, retention."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta

import pytest
from call_page_helpers import NOW, add_booking  # type: ignore[import-not-found]
from call_team_helpers import login  # type: ignore[import-not-found]
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.calls.events import SqlEventSink
from app.calls.models import CallDocument
from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.tokens import Purpose
from app.ops import jobs
from scheduler.models import Booking
from signaling.core import Admission, Record, SignalingCore
from signaling.messages import Role

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # the bytes are stored as given
PDF = b"%PDF-1.4\n% a form\n"


@pytest.fixture
def booking(city_engine: tuple[Engine, object], city: object) -> Booking:
    return add_booking(city_engine[0], city.staff_ids[0], city.consult_id, NOW + timedelta(hours=1))  # type: ignore[attr-defined]


def answer_on_screen(engine: Engine, booking: Booking, frames: list[str], at: datetime) -> None:
    """Run the signaling core's consent exchange; its records go to ``call_events``
    through the real sink, as the signaling server writes them."""
    people = {
        "res": Admission(booking.room_id, Role.RESIDENT, "resident:1", "山田"),
        "staff": Admission(booking.room_id, Role.STAFF, "staff:1", "田中"),
    }
    core = SignalingCore(node="n1", authenticate=lambda token, now: people[token])

    async def run() -> None:
        sink = SqlEventSink(engine)
        for conn, token in ((1, "res"), (2, "staff")):
            core.connect(conn, at)
            join = {"type": "join", "v": 1, "room": booking.room_id, "token": token}
            core.receive(conn, json.dumps(join), at)
        for text in frames:
            sender = 2 if '"consent-request"' in text else 1
            for action in core.receive(sender, text, at):
                if isinstance(action, Record):
                    sink.record(action.event)
        await sink.close()

    asyncio.run(run())


ASK = '{"type":"consent-request","purpose":"photo","to":"resident:1"}'
YES = '{"type":"consent","purpose":"photo","granted":true,"to":"staff:1"}'
NO = '{"type":"consent","purpose":"photo","granted":false,"to":"staff:1"}'


def photo(client: TestClient, booking: Booking) -> tuple[int, dict[str, object]]:
    r = client.post(
        f"/api/v1/staff/bookings/{booking.code}/photos",
        content=PNG,
        headers={"Content-Type": "image/png"},
    )
    body: dict[str, object] = r.json()
    return r.status_code, body


def test_a_photo_needs_the_residents_consent_on_screen(
    client: TestClient, ctx: AppContext, clock: FixedClock, booking: Booking
) -> None:
    # In the call, then logged in (a login older than the idle timeout lapses).
    clock.moment = booking.start_at + timedelta(minutes=5)
    login(client, "staff0")
    status, body = photo(client, booking)
    assert status == 409 and body["error"]["code"] == "consent-required"  # type: ignore[index]

    # Asked, but not yet answered: still no.
    answer_on_screen(ctx.engine, booking, [ASK], clock.moment)
    assert photo(client, booking)[0] == 409
    answer_on_screen(ctx.engine, booking, [YES], clock.moment + timedelta(seconds=1))
    status, body = photo(client, booking)
    assert status == 201, body
    stored = client.get(str(body["url"]))
    assert stored.status_code == 200 and stored.content == PNG
    assert stored.headers["content-type"] == "image/png"
    assert stored.headers["cache-control"] == "no-store"

    # The resident changes their mind: the latest answer counts.
    answer_on_screen(ctx.engine, booking, [NO], clock.moment + timedelta(seconds=2))
    assert photo(client, booking)[0] == 409
    with Session(ctx.engine) as session:
        assert session.scalar(select(func.count()).select_from(CallDocument)) == 1


def test_pushed_document_is_served_by_its_signed_link_only(
    client: TestClient, booking: Booking
) -> None:
    login(client, "staff0")
    url = f"/api/v1/staff/bookings/{booking.code}/documents"
    r = client.post(
        url, params={"name": "転入届.pdf"}, content=PDF, headers={"Content-Type": "application/pdf"}
    )
    assert r.status_code == 201, r.text
    link = r.json()["url"]
    client.post("/api/v1/auth/logout")  # the resident's screen has no login
    got = client.get(link)
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    assert client.get(link + "x").status_code == 403
    login(client, "staff0")
    html = client.post(
        url, params={"name": "x.html"}, content=b"<script>", headers={"Content-Type": "text/html"}
    )
    assert html.status_code == 422 and html.json()["error"]["code"] == "document-type"


def test_retention_job_deletes_documents_and_their_links_stop(
    client: TestClient, ctx: AppContext, clock: FixedClock, booking: Booking
) -> None:
    login(client, "staff0")
    r = client.post(
        f"/api/v1/staff/bookings/{booking.code}/documents",
        params={"name": "form.pdf"},
        content=PDF,
        headers={"Content-Type": "application/pdf"},
    )
    link = r.json()["url"]
    retention = timedelta(days=ctx.settings.document_retention_days)

    def stored() -> int:
        with Session(ctx.engine) as session:
            return session.scalar(select(func.count()).select_from(CallDocument)) or 0

    clock.moment = booking.end_at + retention - timedelta(minutes=1)
    jobs.run_once(ctx, None)
    assert stored() == 1 and client.get(link).status_code == 200
    clock.moment = booking.end_at + retention
    jobs.run_once(ctx, None)
    assert stored() == 0
    assert client.get(link).status_code == 410


HTML = b"<!doctype html><html><script>fetch('/api/v1/auth/me')</script></html>"


def test_a_document_is_typed_by_its_content_not_the_declared_type(
    client: TestClient, ctx: AppContext, booking: Booking
) -> None:
    """HTML declared as a PDF (or a PNG) is refused (issue 18, finding 6)."""
    login(client, "staff0")
    url = f"/api/v1/staff/bookings/{booking.code}/documents"
    for declared in ("application/pdf", "image/png"):
        r = client.post(
            url, params={"name": "form.pdf"}, content=HTML, headers={"Content-Type": declared}
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "document-type", declared
    # A real PNG declared as a PDF is stored as what it is.
    r = client.post(
        url, params={"name": "scan"}, content=PNG, headers={"Content-Type": "application/pdf"}
    )
    assert r.status_code == 201
    got = client.get(r.json()["url"])
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-disposition"].startswith("inline;")
    assert got.headers["x-content-type-options"] == "nosniff"
    with Session(ctx.engine) as session:
        assert session.scalar(select(func.count()).select_from(CallDocument)) == 1


def test_a_stored_document_whose_content_is_not_safe_is_only_an_attachment(
    client: TestClient, ctx: AppContext, booking: Booking
) -> None:
    """A row from before the content check, HTML labelled as a PDF: never shown inline."""
    with Session(ctx.engine) as session:
        doc = CallDocument(
            booking_id=booking.id,
            kind="pushed",
            name="form.pdf",
            content_type="application/pdf",
            data=HTML,
            staff_id=booking.staff_id,
            created_at=NOW,
            delete_after=NOW + timedelta(days=30),
        )
        session.add(doc)
        session.commit()
        token = ctx.tokens.issue(Purpose.DOCUMENT, {"d": doc.id}, expires=doc.delete_after)
    got = client.get(f"/api/v1/documents/{token}")
    assert got.status_code == 200
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["x-content-type-options"] == "nosniff"
