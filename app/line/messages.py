"""LINE message actions as stored on outbox rows, and LINE's limits on messages.

The SDK's message models are built from them in ``app.line.channel``: this
module stays free of ``line-bot-sdk`` (seconds of import) so queueing a
LINE message never loads it.

An action is stored on the row as a plain dict, fixed when the row was queued
(``{"type": "uri", "label": …, "uri": …}`` or ``{"type": "postback", "label":
…, "data": …}``), so a retry sends exactly what the first attempt did.
"""

from __future__ import annotations

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
