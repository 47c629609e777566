"""Interpreters on demand: who can interpret language L for a call starting now.

A pure function over ``InterpreterSpec`` (hours and busy times loaded by
``scheduler.service.SchedulingService.interpreters_free_now``), used for
walk-in calls at a kiosk: the routing of walk-ins asks it, then invites the
chosen interpreter into the call room with a join token of role
``interpreter``. Booked consultations reserve their interpreter with the slot
instead (``scheduler.slots``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from zoneinfo import ZoneInfo

from scheduler.calendar import open_windows
from scheduler.types import InterpreterSpec, TimeRange

__all__ = ["SIGN_LANGUAGES", "free_interpreters"]

# Interpreter languages that are signed, not spoken (ISO 639-3 ``jsl``: Japanese
# Sign Language, the code the city file and the admin form suggest). A call
# with such an interpreter shows the signer beside the staff member, both
# large, on the visitor's screen (web/static/js/call/ui.js).
SIGN_LANGUAGES: frozenset[str] = frozenset({"jsl"})


def free_interpreters(
    interpreters: Iterable[InterpreterSpec],
    language: str,
    window: TimeRange,
    tz: ZoneInfo,
    *,
    closed: frozenset[date] = frozenset(),
) -> list[int]:
    """Ids of interpreters of ``language`` working and free for all of ``window``, by id.

    ``closed`` holds the city's closed dates (an interpreter's own date
    override still opens one).
    """
    found: list[int] = []
    for interpreter in sorted(interpreters, key=lambda i: i.id):
        if language not in interpreter.languages:
            continue
        if any(window.overlaps(busy) for busy in interpreter.busy):
            continue
        if _works_through(interpreter, window, tz, closed):
            found.append(interpreter.id)
    return found


def _works_through(
    interpreter: InterpreterSpec, window: TimeRange, tz: ZoneInfo, closed: frozenset[date]
) -> bool:
    first = window.start.astimezone(tz).date()
    last = window.end.astimezone(tz).date()
    day = first
    spans: list[TimeRange] = []
    while day <= last:
        spans.extend(open_windows(interpreter.hours, day, city_closed=day in closed, tz=tz))
        day = date.fromordinal(day.toordinal() + 1)
    # Back-to-back windows (e.g. across midnight) count as one.
    merged: list[TimeRange] = []
    for span in sorted(spans):
        if merged and span.start <= merged[-1].end:
            merged[-1] = TimeRange(merged[-1].start, max(merged[-1].end, span.end))
        else:
            merged.append(span)
    return any(span.contains(window) for span in merged)
