"""Personal data and secrets never reach a log line; JSON logs on request."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from app.cli import main as cli_main
from app.core import logs


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
