"""Which free, qualified staff member should take a new booking first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from scheduler.types import ExistingBooking

__all__ = ["rank_staff"]

# Sorts before any real booking start: someone never booked has waited longest.
_NEVER = datetime.min.replace(tzinfo=UTC)


def rank_staff(
    candidates: Sequence[int], bookings: Sequence[ExistingBooking], day: date, tz: ZoneInfo
) -> list[int]:
    """Candidates in the order to try them for a booking on local date ``day``.

    Least loaded that day first; ties go to fewer bookings in ``bookings`` overall,
    then to whoever has waited longest since their latest booking start (nobody
    with no booking at all goes first), then to the lower id. Duplicates are dropped.
    """
    wanted = set(candidates)
    that_day: dict[int, int] = dict.fromkeys(wanted, 0)
    total: dict[int, int] = dict.fromkeys(wanted, 0)
    latest: dict[int, datetime] = {}
    for booking in bookings:
        staff_id = booking.staff_id
        if staff_id not in wanted:
            continue
        total[staff_id] += 1
        if booking.start.astimezone(tz).date() == day:
            that_day[staff_id] += 1
        previous = latest.get(staff_id)
        if previous is None or booking.start > previous:
            latest[staff_id] = booking.start

    def key(staff_id: int) -> tuple[int, int, datetime, int]:
        return (that_day[staff_id], total[staff_id], latest.get(staff_id, _NEVER), staff_id)

    return sorted(wanted, key=key)
