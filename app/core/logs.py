"""Logging for every madoguchi process: personal data masked, JSON on request.

``MADOGUCHI_LOG_FORMAT=json`` writes one JSON object per line (for Loki,
CloudWatch, Elasticsearch); the default is plain text. Either way every line
passes :class:`MaskingFilter` first, which replaces what must never reach a
log file: email addresses, phone numbers, signed link tokens, passwords in
URLs and the configured secrets. Names cannot be recognised in free text, so
the code's rule stays: log ids, never a resident's name (STYLE.md); the
filter also masks ``name``/``email``/``phone`` fields passed as ``extra``.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

from app.core.links import TOKEN_PATHS

MASK = "***"
LINK_MASK = "[token]"

_B64 = r"[A-Za-z0-9_-]"
# The segment after a path the app hands tokens out on (links.TOKEN_PATHS),
# whatever it looks like. A segment without a dot is a word of the route
# (/kiosk/pair), not a token: itsdangerous tokens always have one.
_TOKEN_PATH = re.compile(
    "(" + "|".join(re.escape(p) for p in TOKEN_PATHS) + r")(?=[^/\s?#\"']*\.)[^/\s?#\"']+"
)

# Order matters: tokens contain dots and dashes that the phone pattern would eat.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # scheme://user:password@host
    (re.compile(r"(?<=://)([^/\s:@]+):([^/\s@]+)@"), r"\1:" + MASK + "@"),
    (_TOKEN_PATH, r"\1" + LINK_MASK),
    # A token in a query string (?token=…, as the precheck and rtc-config take it).
    (re.compile(r"(?<=[?&]token=)[^&\s\"']+"), LINK_MASK),
    # Timestamped itsdangerous values (a session cookie): payload.timestamp.signature.
    (re.compile(rf"{_B64}{{8,}}\.{_B64}{{4,}}\.{_B64}{{16,}}"), LINK_MASK),
    # The app's link tokens (URLSafeSerializer): payload.signature, the payload
    # starting with "." when compressed (join tokens); the HMAC-SHA1 signature
    # is 27 base64url characters, which no host or module name has.
    (re.compile(rf"(?<!{_B64})\.?{_B64}{{2,}}\.{_B64}{{27,}}(?!{_B64})"), LINK_MASK),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[email]"),
    # Phone numbers as residents type them: 090-1234-5678, 03 1234 5678, +81 90 1234 5678.
    # A leading 0 or + keeps dates (2026-12-01) and ids out.
    (
        re.compile(
            r"(?<![\w.:/-])(?:\+\d{1,3}[ -]?\d{1,4}|0\d{1,4})[ -]?\d{1,4}[ -]?\d{3,4}(?![\w.:/-])"
        ),
        "[phone]",
    ),
)
# ("name" is taken: LogRecord.name is the logger's name.)
_PERSONAL_FIELDS = frozenset({"resident_name", "email", "phone", "password", "token"})


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class MaskingFilter(logging.Filter):
    """Rewrites each record's message (and personal ``extra`` fields) before output."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: set[str] = {s for s in secrets if len(s) >= 6}

    def add_secret(self, secret: str | None) -> None:
        # Short strings would mask innocent words; real secrets are long.
        if secret and len(secret) >= 6:
            self.secrets.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = mask(message, self.secrets)
        record.args = None
        for field in _PERSONAL_FIELDS & record.__dict__.keys():
            setattr(record, field, MASK)
        return True


_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


class JsonFormatter(logging.Formatter):
    def __init__(self, masking: MaskingFilter) -> None:
        super().__init__()
        self.masking = masking

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = mask(self.formatException(record.exc_info), self.masking.secrets)
        return orjson.dumps(entry, default=str).decode()


_filter = MaskingFilter()


def configure(log_format: str = "text", level: int = logging.INFO) -> MaskingFilter:
    """Route every logger (uvicorn's included) through one masked handler on stderr.

    Like ``logging.basicConfig`` it leaves handlers someone else installed (a
    test runner's) in place, but masks what they receive too.
    """
    root = logging.getLogger()
    foreign = [h for h in root.handlers if not getattr(h, "_madoguchi", False)]
    for old in root.handlers:
        if getattr(old, "_madoguchi", False):
            root.removeHandler(old)
    for other in foreign:
        if _filter not in other.filters:
            other.addFilter(_filter)
    if not foreign:
        handler = logging.StreamHandler(sys.stderr)
        handler._madoguchi = True  # type: ignore[attr-defined]
        handler.addFilter(_filter)
        if log_format == "json":
            handler.setFormatter(JsonFormatter(_filter))
        else:
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
            )
        root.addHandler(handler)
        root.setLevel(level)
    return _filter


def register_secrets(*secrets: str | None) -> None:
    """Values that must never appear in a log line (secret key, passwords)."""
    for secret in secrets:
        _filter.add_secret(secret)
