"""Signed LINE webhook requests for the tests (the signature computed independently of the SDK)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

USER = "U" + "a" * 32
TOKEN = "line-test-token-" + "t" * 20
CHANNEL_SECRET = "line-channel-secret-0123456789"
_ids = itertools.count(1)


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def event(kind: str, now: datetime, user: str = USER, **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "mode": "active",
        "timestamp": int(now.timestamp() * 1000),
        "source": {"type": "user", "userId": user},
        "webhookEventId": f"01HTEST{next(_ids):019d}",
        "deliveryContext": {"isRedelivery": False},
        **extra,
    }


def text(now: datetime, message: str, user: str = USER) -> dict[str, Any]:
    return event(
        "message",
        now,
        user,
        replyToken="r" * 32,
        message={"id": str(next(_ids)), "type": "text", "text": message, "quoteToken": "q"},
    )


def postback(now: datetime, data: str, user: str = USER) -> dict[str, Any]:
    return event("postback", now, user, replyToken="r" * 32, postback={"data": data})


def post(
    client: TestClient, secret: str, *events: dict[str, Any], signature: str | None = None
) -> Response:
    body = json.dumps({"destination": "Ubot", "events": list(events)}).encode()
    headers = {"Content-Type": "application/json"}
    headers["X-Line-Signature"] = signature if signature is not None else sign(secret, body)
    return client.post("/line/webhook", content=body, headers=headers)
