"""LINE messages from outbox rows: the text, and a buttons template for the row's actions.

An action is stored on the row as a plain dict, fixed when the row was queued
(``{"type": "uri", "label": …, "uri": …}`` or ``{"type": "postback", "label":
…, "data": …}``), so a retry sends exactly what the first attempt did.
"""

from __future__ import annotations

from linebot.v3.messaging import (
    Action,
    ButtonsTemplate,
    Message,
    PostbackAction,
    TemplateMessage,
    TextMessage,
    URIAction,
)

# LINE's limits (Messaging API reference: text message, buttons template, actions).
TEXT_MAX = 5000
BUTTONS_TEXT_MAX = 160
ALT_TEXT_MAX = 400
LABEL_MAX = 20
ACTIONS_MAX = 4


def uri(label: str, target: str) -> dict[str, str]:
    return {"type": "uri", "label": label[:LABEL_MAX], "uri": target}


def postback(label: str, data: str) -> dict[str, str]:
    return {"type": "postback", "label": label[:LABEL_MAX], "data": data}


def _action(spec: dict[str, str]) -> Action:
    if spec["type"] == "postback":
        return PostbackAction(label=spec["label"], data=spec["data"])
    return URIAction(label=spec["label"], uri=spec["uri"])


def build(subject: str, body: str, actions: list[dict[str, str]] | None) -> list[Message]:
    """The text, then (when there are actions) their buttons under the subject line."""
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
