"""Closed dates (public holidays, year-end closure) and one day's open windows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from scheduler.types import ClosurePolicy, Hours, TimeRange

__all__ = ["HoursIndex", "closed_by_notice", "closed_dates", "local_datetime", "open_windows"]

WallWindows = tuple[tuple[time, time], ...]


def closed_dates(policy: ClosurePolicy, first: date, last: date) -> frozenset[date]:
    """Dates in ``first..last`` (inclusive) on which the city is closed."""
    if first > last:
        return frozenset()
    closed: set[date] = set()
    if policy.public_holidays:
        for year in range(first.year, last.year + 1):
            closed.update(_japanese_holidays(year))
    if policy.year_end:
        # The closure straddles New Year, so the range may start inside last year's.
        for year in range(first.year - 1, last.year + 1):
            start = date(year, 12, 29)
            closed.update(start + timedelta(days=n) for n in range(6))
    closed.update(policy.extra_closed)
    return frozenset(day for day in closed if first <= day <= last)


@lru_cache(maxsize=64)
def _japanese_holidays(year: int) -> frozenset[date]:
    # Includes 振替休日 and 国民の休日; the package knows each year's equinox dates.
    return frozenset(holidays.country_holidays("JP", years=year))


def local_datetime(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The instant a wall clock in ``tz`` shows ``wall`` on ``day``.

    Ambiguous times (clocks going back) take the first occurrence; times skipped
    by a jump forward are moved later by the length of the jump, as clocks do.
    The round trip through UTC makes the result show the real wall time.
    """
    naive = datetime.combine(day, wall.replace(tzinfo=None))
    return naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)


class HoursIndex:
    """``Hours`` indexed by weekday and date, for looking up many days."""

    __slots__ = ("_overrides", "_weekly")

    def __init__(self, hours: Hours) -> None:
        weekly: list[list[tuple[time, time]]] = [[] for _ in range(7)]
        for window in hours.weekly:
            weekly[window.weekday].append((window.start, window.end))
        self._weekly: tuple[WallWindows, ...] = tuple(tuple(sorted(w)) for w in weekly)
        # Later overrides for the same date replace earlier ones, like a dict update.
        self._overrides: dict[date, WallWindows] = {o.day: o.windows for o in hours.overrides}

    def wall_windows(self, day: date, *, city_closed: bool) -> WallWindows:
        """Wall-clock windows of ``day``; an override beats both closure and weekly hours."""
        override = self._overrides.get(day)
        if override is not None:
            return override
        if city_closed:
            return ()
        return self._weekly[day.weekday()]


def open_windows(hours: Hours, day: date, *, city_closed: bool, tz: ZoneInfo) -> list[TimeRange]:
    """The aware open windows of local date ``day``, sorted by start."""
    windows: list[TimeRange] = []
    for start, end in HoursIndex(hours).wall_windows(day, city_closed=city_closed):
        aware_start = local_datetime(day, start, tz)
        aware_end = local_datetime(day, end, tz)
        # Moving a skipped start later by the jump can push it past the end.
        if aware_start < aware_end:
            windows.append(TimeRange(aware_start, aware_end))
    return sorted(windows)


def closed_by_notice(
    windows: Sequence[TimeRange], duration: timedelta, min_notice: timedelta, now: datetime
) -> bool:
    """The day is open, but the notice rule leaves no start time in it: bookings are closed.

    Such a day is not full: no cancellation could free a time a resident may
    still take, so it is shown as closed (受付終了) and has no waiting list.
    """
    if not windows:
        return False
    earliest = now + min_notice
    return all(window.end - duration < earliest for window in windows)
