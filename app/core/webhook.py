"""The webhook channel: outbox rows POSTed as signed JSON to a gateway (LINE, SMS …).

The body is signed with HMAC-SHA256 over ``timestamp + "." + body`` using the
shared ``MADOGUCHI_WEBHOOK_SECRET``; the gateway recomputes it (``verify``)
and refuses stale timestamps. ``X-Madoguchi-Delivery`` is the same for every
attempt at one row, so a gateway can drop a repeat after a worker crash.
"""

from __future__ import annotations

import hashlib
import hmac

import httpx
import orjson

from app.core.clock import Clock
from app.core.outbox import DeliveryError, OutboxMail

SIGNATURE_HEADER = "X-Madoguchi-Signature"
TIMESTAMP_HEADER = "X-Madoguchi-Timestamp"
DELIVERY_HEADER = "X-Madoguchi-Delivery"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def payload(row: OutboxMail) -> bytes:
    return orjson.dumps(
        {
            "id": f"outbox-{row.id}",
            "kind": row.kind,
            "locale": row.locale,
            "to": row.to_addr,
            "subject": row.subject,
            "text": row.body,
            "booking_id": row.booking_id,
        }
    )


class WebhookChannel:
    def __init__(self, url: str, secret: str, clock: Clock, *, timeout: float = 10.0) -> None:
        self.url, self.secret, self.clock = url, secret, clock
        self.client = httpx.Client(timeout=timeout, trust_env=False)

    def deliver(self, row: OutboxMail) -> None:
        body = payload(row)
        timestamp = str(int(self.clock.now().timestamp()))
        try:
            response = self.client.post(
                self.url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    TIMESTAMP_HEADER: timestamp,
                    SIGNATURE_HEADER: sign(self.secret, timestamp, body),
                    DELIVERY_HEADER: f"outbox-{row.id}",
                },
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        if not response.is_success:
            raise DeliveryError(f"HTTP {response.status_code}")
