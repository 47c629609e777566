"""The "call an interpreter" panel of the staff call pages (walk-in and booked).

The page renders who is called now (or that nobody is, and which languages
someone could interpret right now); ``call/interpreter.js`` posts the
language to the API (``app.api.interpreters``) without leaving the call and
shows the answer in the same panel.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.core.context import AppContext
from app.counter.interpreters import InterpreterCalls
from web.pages.staff.format import named


def interpreter_panel(
    session: Session,
    ctx: AppContext,
    room_id: str,
    locale: str,
    *,
    call_url: str,
    requested: str | None = None,
) -> dict[str, Any]:
    calls = InterpreterCalls(session, ctx, read_only=True)
    now = ctx.clock.now()
    rows = calls.active_languages()
    current = calls.for_room(room_id)
    names = {row.code: named(row, locale) for row in rows}
    called = None
    if current is not None:
        called = {
            "name": calls.interpreter(current).name,
            "language": names.get(current.language, current.language),
            "cancel_url": f"/api/v1/staff/interpreter-calls/{current.id}",
        }
    return {
        "call_url": call_url,
        "languages": [(row.code, f"{named(row, locale)} ({row.label})") for row in rows],
        "requested": names.get(requested, requested) if requested else None,
        "requested_code": requested,
        "called": called,
        # Only worth computing while nobody is called.
        "free": [names[row.code] for row in calls.free_languages(now)] if called is None else [],
    }
