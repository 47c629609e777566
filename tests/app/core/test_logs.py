"""Personal data and secrets never reach a log line; JSON logs on request."""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn

from app.cli import main as cli_main
from app.core import logs
from app.core.links import Links
from app.core.tokens import Purpose, Tokens


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """A handler like the one ``logs.configure`` installs, on a private logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    masking = logs.MaskingFilter(secrets=["s3cret-signing-key-xyz"])
    handler.addFilter(masking)
    logger = logging.getLogger("madoguchi.test.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield stream
    logger.removeHandler(handler)


def test_emails_phones_tokens_and_secrets_are_masked(captured: io.StringIO) -> None:
    log = logging.getLogger("madoguchi.test.logs")
    log.info("booking %s for %s tel %s", 12, "hanako@example.jp", "090-1234-5678")
    log.info("GET /join/eyJiIjoxMn0.aW4kZg.Zm9vYmFyYmF6cXV4cXV1eA HTTP/1.1")
    log.info("key %s db %s", "s3cret-signing-key-xyz", "postgresql://mdg:hunter22@db/mdg")
    log.info("intl %s and %s", "+81 90 1234 5678", "0312345678")
    out = captured.getvalue()
    for leaked in (
        "hanako",
        "090-1234-5678",
        "eyJiIjoxMn0",
        "s3cret-signing-key-xyz",
        "hunter22",
        "1234 5678",
        "0312345678",
    ):
        assert leaked not in out
    assert "booking 12 for [email] tel [phone]" in out
    assert "/join/[token]" in out
    assert "postgresql://mdg:***@db/mdg" in out


def test_dates_times_and_ids_survive_masking() -> None:
    line = "booking 42 room 7f3a at 2026-12-01T10:00:00+09:00 port 8000 took 1234 ms"
    assert logs.mask(line) == line


def test_personal_extra_fields_are_masked(captured: io.StringIO) -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "booked", None, None)
    record.name_ja = "keep"  # not a personal field name
    record.email = "hanako@example.jp"
    record.phone = "090-1234-5678"
    logs.MaskingFilter().filter(record)
    assert record.email == logs.MASK and record.phone == logs.MASK
    assert record.name_ja == "keep"


def test_json_format_is_one_masked_object_per_line() -> None:
    masking = logs.MaskingFilter()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(masking)
    handler.setFormatter(logs.JsonFormatter(masking))
    logger = logging.getLogger("madoguchi.test.json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("mail to %s failed", "hanako@example.jp", extra={"booking_id": 7})
        try:
            raise ValueError("bad address hanako@example.jp")
        except ValueError:
            logger.exception("outbox %s", 3)
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "WARNING" and first["logger"] == "madoguchi.test.json"
    assert first["message"] == "mail to [email] failed"
    assert first["booking_id"] == 7
    assert first["time"].endswith("+00:00")
    assert "ValueError" in second["exception"] and "hanako" not in second["exception"]


def test_configure_masks_what_existing_handlers_receive(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logs.configure("text")
    logs.register_secrets("another-long-secret-value")
    try:
        with caplog.at_level(logging.INFO):
            logging.getLogger("madoguchi.test.cfg").info(
                "smtp login with another-long-secret-value for hanako@example.jp"
            )
        assert "another-long-secret-value" not in caplog.text
        assert "hanako" not in caplog.text
    finally:
        for handler in logging.getLogger().handlers:
            handler.removeFilter(logs._filter)
        logs._filter.secrets.discard("another-long-secret-value")


def test_cli_registers_the_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "cli-secret-key-" + "q" * 30
    monkeypatch.setenv("MADOGUCHI_SECRET_KEY", secret)
    monkeypatch.setenv("MADOGUCHI_DATABASE_URL", "sqlite://")
    try:
        assert cli_main(["db", "upgrade"]) == 0
        assert secret in logs._filter.secrets
    finally:
        logs._filter.secrets.discard(secret)
        for handler in logging.getLogger().handlers:
            handler.removeFilter(logs._filter)


# -- signed links in uvicorn's access log (issue 18, finding 3) --------------------


@dataclass
class _Person:
    id: int
    name: str


@dataclass
class _Booking:
    id: int = 41
    code: str = "MDG-7K3P9Q"
    room_id: str = "room-0123456789abcdef"
    resident_name: str = "山田 花子"
    start_at: datetime = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    end_at: datetime = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)
    interpreter: _Person | None = field(default_factory=lambda: _Person(3, "Ana Souza"))
    interpreter_language: str | None = "pt"


@dataclass
class _Staff:
    id: int = 5
    feed_version: int = 2


@dataclass
class _Entry:
    id: int = 9
    offer_expires_at: datetime | None = datetime(2026, 12, 2, tzinfo=UTC)


def _links() -> Links:
    return Links(Tokens("k" * 48), "https://madoguchi.city.example")


def _every_link() -> dict[str, str]:
    """Every kind of signed URL the app hands out, as a path with its query."""
    links, booking = _links(), _Booking()
    tokens = links.tokens
    urls = {
        "manage": links.manage_url(booking),
        "ics": links.ics_url(booking),
        "join": links.join_url(booking),
        "interpreter": links.interpreter_join_url(booking) or "",
        "feed": links.feed_url(_Staff()),
        "waitlist": links.waitlist_claim_url(_Entry()),
        "kiosk": links.kiosk_url(_Staff(), expires=booking.end_at),
        "status": links.application_url(12, "A26-0000042"),
        "document": "/api/v1/documents/" + tokens.issue(Purpose.DOCUMENT, {"d": 4}),
        "handover": "/api/v1/staff/handover/"
        + tokens.issue(Purpose.HANDOVER, {"c": booking.code, "to": 2, "m": "warm"})
        + "/join",
        "kiosk-call": links.kiosk_url(_Staff(), expires=booking.end_at)
        + "/call/"
        + links.join_token(booking, role="kiosk", pid="kiosk:1"),
        "precheck": "/api/v1/precheck?token=" + links.join_token(booking),
    }
    return {k: v.removeprefix("https://madoguchi.city.example") for k, v in urls.items()}


def _secrets_of(path: str) -> list[str]:
    """The token segments of a path: whatever contains a dot (names and ids do not)."""
    parts = [p for p in path.replace("?token=", "/").split("/") if "." in p]
    return [p for p in parts if not p.endswith((".ics",))]


def test_the_links_tokens_have_the_shapes_the_issue_found() -> None:
    """Two dot-separated parts, join tokens compressed to a leading '.'."""
    urls = _every_link()
    assert _secrets_of(urls["join"])[0].startswith(".")
    assert all(t.count(".") <= 2 for u in urls.values() for t in _secrets_of(u))


def test_every_signed_link_is_masked_by_its_url_shape_and_its_token_shape() -> None:
    for kind, path in _every_link().items():
        secrets = _secrets_of(path)
        assert secrets, kind
        masked = logs.mask(f'127.0.0.1:5123 - "GET {path} HTTP/1.1" 200')
        for secret in secrets:
            assert secret not in masked, kind
            # Each half too: a payload alone names the booking.
            for half in secret.strip(".").split("."):
                assert half not in masked, (kind, half)
        assert "[token]" in masked, kind
    # Out of a URL, the bare token is still recognised by its shape.
    token = _links().manage_token(_Booking())
    assert logs.mask(f"resending {token} now") == "resending [token] now"


def test_route_words_and_ordinary_text_are_not_tokens() -> None:
    for line in (
        'GET /kiosk/pair HTTP/1.1" 200',
        "GET /api/v1/bookings HTTP/1.1",
        "POST /kiosk/device/heartbeat",
        "app.core.logs madoguchi.city.example uvicorn.protocols.http.h11_impl",
        "GET /static/css/console.css?v=3",
    ):
        assert logs.mask(line) == line


def test_uvicorn_access_log_lines_carry_no_token() -> None:
    """A real uvicorn server on loopback, logging through the app's masking filter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.MaskingFilter())
    access = logging.getLogger("uvicorn.access")
    old_level, old_propagate = access.level, access.propagate
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(asgi, log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        paths = _every_link()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            for path in paths.values():
                http.get(path)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        access.removeHandler(handler)
        access.setLevel(old_level)
        access.propagate = old_propagate
    out = stream.getvalue()
    assert out.count("HTTP/1.1") == len(paths)  # one real access line per request
    for kind, path in paths.items():
        for secret in _secrets_of(path):
            assert secret not in out, kind
    assert '"GET /manage/[token] HTTP/1.1" 404' in out
    assert "/api/v1/calendar/staff/[token]/feed.ics" in out
    assert "/join/[token]" in out
