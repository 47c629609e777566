"""The ``line`` outbox channel: one push message per row through ``line-bot-sdk``.

Each row is pushed with ``X-Line-Retry-Key`` derived from the row, so when a
worker dies after LINE accepted a push, the repeat is answered 409 by LINE
instead of reaching the resident twice, and counts as delivered here.
429 and 5xx are retried by the outbox with back-off, never sooner than the
platform's ``Retry-After``; any other 4xx fails the row at once (shown on the
admin outbox page). LINE answering 403 or 404 for the user means they can no
longer be reached (they blocked the account or left LINE): their links go
inactive, so nothing more is queued for them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker
from urllib3.exceptions import HTTPError

from app.core.clock import Clock
from app.core.outbox import DeliveryError, OutboxMail
from app.line.links import deactivate
from app.line.messages import ACTIONS_MAX, ALT_TEXT_MAX, BUTTONS_TEXT_MAX, TEXT_MAX

if TYPE_CHECKING:
    from linebot.v3.messaging import Action, Message, MessagingApi

# line-bot-sdk (~850 pydantic v1 models) takes seconds to import, so its
# models are imported where a push is built: a city without a LINE channel
# access token never loads it, and `madoguchi serve` starts that much sooner.

log = logging.getLogger(__name__)

UNREACHABLE = (403, 404)


def retry_key(base_url: str, row: OutboxMail) -> str:
    """The same row always carries the same key; another deployment's (or a
    restored database's) row of the same id does not."""
    name = f"outbox-{row.id}-{row.created_at.isoformat()}"
    return str(uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, base_url), name))


def retry_after(
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None, now: datetime
) -> timedelta | None:
    if not headers:
        return None
    values = headers.items() if isinstance(headers, Mapping) else headers
    value = next((v for k, v in values if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - now, timedelta(0))


def _action(spec: dict[str, str]) -> Action:
    from linebot.v3.messaging import PostbackAction, URIAction

    if spec["type"] == "postback":
        return PostbackAction(label=spec["label"], data=spec["data"])
    return URIAction(label=spec["label"], uri=spec["uri"])


def build(subject: str, body: str, actions: list[dict[str, str]] | None) -> list[Message]:
    """The text, then (when there are actions) their buttons under the subject line."""
    from linebot.v3.messaging import ButtonsTemplate, TemplateMessage, TextMessage

    text = f"{subject}\n\n{body}" if subject else body
    messages: list[Message] = [TextMessage(text=text.strip()[:TEXT_MAX])]
    if actions:
        headline = (subject or body).strip()
        messages.append(
            TemplateMessage(
                alt_text=headline[:ALT_TEXT_MAX],
                template=ButtonsTemplate(
                    text=headline[:BUTTONS_TEXT_MAX],
                    actions=[_action(a) for a in actions[:ACTIONS_MAX]],
                ),
            )
        )
    return messages


class LineChannel:
    def __init__(
        self,
        api: MessagingApi,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        base_url: str,
        timeout: float = 10.0,
    ) -> None:
        self.api, self.sessions, self.clock = api, sessions, clock
        self.base_url, self.timeout = base_url, timeout

    def deliver(self, row: OutboxMail) -> None:
        from linebot.v3.messaging import ApiException, PushMessageRequest

        request = PushMessageRequest(
            to=row.to_addr, messages=build(row.subject, row.body, row.actions)
        )
        try:
            self.api.push_message(
                request,
                x_line_retry_key=retry_key(self.base_url, row),
                _request_timeout=self.timeout,
            )
        except ApiException as exc:
            status = int(exc.status or 0)
            if status == 409:
                log.info("outbox %s: LINE had accepted this push already", row.id)
                return
            message = f"LINE {status} {exc.reason or ''}".strip()
            if status == 429 or status >= 500:
                raise DeliveryError(
                    message, retry_after=retry_after(exc.headers, self.clock.now())
                ) from exc
            if status in UNREACHABLE:
                with self.sessions() as session, session.begin():
                    deactivate(session, row.to_addr, self.clock.now())
                message += " (the user cannot be reached; their LINE links are now inactive)"
            raise DeliveryError(message, permanent=True) from exc
        except HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
