"""Webhooks on status change: queued in the same transaction, delivered later.

Each delivery is a POST of the JSON body signed with the shared secret:
``X-Madoguchi-Signature: sha256=<hex HMAC-SHA256 of the body>``. Failed
deliveries are retried with back-off until ``MAX_ATTEMPTS``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.core.clock import Clock
from app.tracker.models import WebhookDelivery

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Madoguchi-Signature"
MAX_ATTEMPTS = 8


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    return hmac.compare_digest(sign(secret, body), header)


def enqueue(session: Session, event: str, payload: dict[str, Any], now: datetime) -> None:
    body = orjson.dumps({"event": event, "at": now.isoformat(), "data": payload}).decode()
    session.add(
        WebhookDelivery(event=event, body=body, created_at=now, next_attempt_at=now, attempts=0)
    )


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 5 * 2 ** max(0, attempts - 1)))


def deliver_pending(
    sessions: sessionmaker[Session],
    url: str | None,
    secret: str | None,
    clock: Clock,
    *,
    timeout: float = 10.0,
    trust_env: bool = True,
) -> int:
    """POST every due delivery once; returns how many were delivered."""
    if not url or not secret:
        return 0
    now = clock.now()
    with sessions() as session:
        due = list(
            session.scalars(
                select(WebhookDelivery)
                .where(
                    WebhookDelivery.delivered_at.is_(None),
                    WebhookDelivery.attempts < MAX_ATTEMPTS,
                    WebhookDelivery.next_attempt_at <= now,
                )
                .order_by(WebhookDelivery.id)
                .limit(100)
            )
        )
        delivered = 0
        with httpx.Client(timeout=timeout, trust_env=trust_env) as client:
            for row in due:
                body = row.body.encode()
                row.attempts += 1
                try:
                    response = client.post(
                        url,
                        content=body,
                        headers={
                            "Content-Type": "application/json",
                            SIGNATURE_HEADER: sign(secret, body),
                        },
                    )
                    response.raise_for_status()
                except httpx.HTTPError as exc:
                    row.last_error = str(exc)[:300]
                    row.next_attempt_at = now + backoff(row.attempts)
                    log.warning("webhook %s: attempt %d failed", row.id, row.attempts)
                else:
                    row.delivered_at = now
                    delivered += 1
                session.commit()
    return delivered
