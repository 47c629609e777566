"""Receiving LINE's webhook: verify, keep the events worth handling, queue them.

``linebot.v3.WebhookParser`` checks ``X-Line-Signature`` (HMAC-SHA256 of the
body with the channel secret) and parses the events. Nothing is handled
inside the request: each event is stored in ``line_events`` and the jobs loop
(``app.line.service.process_events``) answers it, so LINE gets its 200 at once.
``webhookEventId`` is unique, so a redelivered event is stored once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.line.models import EventStatus, LineEvent

# The event types madoguchi answers; any other is refused unstored.
HANDLED = frozenset({"follow", "unfollow", "message", "postback"})


class WebhookRefused(Exception):
    """The request as a whole is refused (400); ``code`` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Received:
    stored: int = 0
    duplicates: int = 0
    ignored: list[str] = field(default_factory=list)


def load_sdk() -> None:
    """Import line-bot-sdk's parser now, so LINE's first webhook does not wait seconds for it."""
    from linebot.v3 import WebhookParser  # noqa: F401


def _events(secret: str, body: str, signature: str) -> list[dict[str, Any]]:
    # line-bot-sdk takes seconds to import: a city without LINE never loads it.
    from linebot.v3 import WebhookParser
    from linebot.v3.exceptions import InvalidSignatureError

    if not signature:
        raise WebhookRefused("signature-missing", "X-Line-Signature is missing.")
    try:
        WebhookParser(secret).parse(body, signature)
    except InvalidSignatureError as exc:
        raise WebhookRefused("signature-invalid", "X-Line-Signature does not match.") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise WebhookRefused("body-invalid", "The body is not a LINE webhook.") from exc
    # The parser's objects drop what the SDK does not model; the stored payload
    # is the event exactly as LINE sent (and signed) it.
    raw = orjson.loads(body)
    events = raw.get("events") if isinstance(raw, dict) else None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise WebhookRefused("body-invalid", "The body is not a LINE webhook.")
    return events


def receive(
    session: Session,
    *,
    secret: str,
    body: str,
    signature: str,
    now: datetime,
    max_age: timedelta,
) -> Received:
    """Queue the handled events of one signed request; the caller commits."""
    events = _events(secret, body, signature)
    result = Received()
    keep: list[dict[str, Any]] = []
    for event in events:
        kind = str(event.get("type", ""))
        if kind not in HANDLED:
            result.ignored.append(kind or "?")
            continue
        event_id = event.get("webhookEventId")
        timestamp = event.get("timestamp")
        if not isinstance(event_id, str) or not event_id or not isinstance(timestamp, int):
            raise WebhookRefused("body-invalid", "An event has no webhookEventId or timestamp.")
        if now.timestamp() * 1000 - timestamp > max_age.total_seconds() * 1000:
            # A signed body captured long ago and sent again: refuse the lot.
            raise WebhookRefused("event-stale", "An event is older than this server accepts.")
        keep.append(event)
    ids = [str(e["webhookEventId"]) for e in keep]
    seen = set(
        session.scalars(
            select(LineEvent.webhook_event_id).where(LineEvent.webhook_event_id.in_(ids))
        )
    )
    for event in keep:
        event_id = str(event["webhookEventId"])
        if event_id in seen:
            result.duplicates += 1
            continue
        seen.add(event_id)
        source = event.get("source")
        user_id = source.get("userId") if isinstance(source, dict) else None
        row = LineEvent(
            webhook_event_id=event_id,
            event_type=str(event["type"]),
            line_user_id=user_id if isinstance(user_id, str) else None,
            payload=event,
            received_at=now,
            status=EventStatus.PENDING,
            attempts=0,
        )
        try:
            # A concurrent redelivery of the same event loses only its own row.
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            result.duplicates += 1
            continue
        result.stored += 1
    return result
