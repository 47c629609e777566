"""iCalendar files: a booking's .ics, a staff member's feed, busy times from an import.

Generated files follow RFC 5545 the way Outlook, Google Calendar and iPhone
Calendar read it: CRLF line ends, lines folded at 75 octets on UTF-8
character boundaries, times with a ``TZID`` plus the matching ``VTIMEZONE``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import recurring_ical_events

from scheduler.calendar import local_datetime
from scheduler.errors import CalendarParseError
from scheduler.types import TimeRange

__all__ = ["CalendarEvent", "booking_calendar", "busy_from_ics", "feed_calendar"]

DEFAULT_PRODID = "-//madoguchi//JA"
TOKYO = ZoneInfo("Asia/Tokyo")
REMINDER_BEFORE = timedelta(minutes=15)
FEED_REFRESH = timedelta(minutes=15)
# Expansion costs about 0.3 ms per occurrence; a busy person has some 40 a day.
MAX_OCCURRENCES = 5_000
# These would expand into hundreds of thousands of spans before any limit
# applies, and no real busy time repeats every minute.
_RUNAWAY_FREQUENCIES = frozenset({"SECONDLY", "MINUTELY"})

# Broken values in these make an event's busy time unknowable, so the import fails
# rather than silently showing the person as free.
_TIME_PROPERTIES = frozenset(
    {"DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID"}
)


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    """One booking as a calendar entry; ``uid`` stays the same across updates."""

    uid: str
    start: datetime
    end: datetime
    summary: str
    description: str
    url: str | None
    location: str | None
    # Bumped by the caller on each change so clients replace their copy.
    sequence: int
    cancelled: bool
    stamp: datetime

    def __post_init__(self) -> None:
        if not self.uid or any(c in self.uid for c in "\r\n"):
            raise ValueError(f"invalid calendar uid {self.uid!r}")
        for value in (self.start, self.end, self.stamp):
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"naive datetime {value!r}: calendar events need aware datetimes")
        if not self.start < self.end:
            raise ValueError(f"event {self.uid} ends before it starts")
        if self.sequence < 0:
            raise ValueError(f"event {self.uid} has a negative sequence")


def booking_calendar(event: CalendarEvent, *, tz: ZoneInfo, prodid: str = DEFAULT_PRODID) -> bytes:
    """A one-event .ics for a confirmation, reschedule or cancellation mail."""
    calendar = _calendar(prodid)
    # A cancelled event keeps its UID with a higher SEQUENCE, which clients
    # apply as an update; METHOD:CANCEL would need an organizer and attendees.
    calendar.add("method", "PUBLISH")
    calendar.add_component(_vevent(event, tz, reminder=not event.cancelled))
    _add_timezones(calendar, [event], tz)
    return _serialize(calendar)


def feed_calendar(
    name: str, events: Sequence[CalendarEvent], *, tz: ZoneInfo, prodid: str = DEFAULT_PRODID
) -> bytes:
    """A subscribable feed (e.g. a staff member's bookings), events ordered by start."""
    uids = [event.uid for event in events]
    if len(uids) != len(set(uids)):
        raise ValueError("feed events must have distinct uids")
    calendar = _calendar(prodid)
    calendar.add("method", "PUBLISH")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("name", name)
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", tz.key)
    # REFRESH-INTERVAL is RFC 7986; X-PUBLISHED-TTL is what Outlook reads.
    calendar.add("refresh-interval", FEED_REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", icalendar.vDuration(FEED_REFRESH))
    ordered = sorted(events, key=lambda event: (event.start, event.uid))
    for event in ordered:
        # Subscribers choose their own reminders; clients ignore feed alarms anyway.
        calendar.add_component(_vevent(event, tz, reminder=False))
    _add_timezones(calendar, ordered, tz)
    return _serialize(calendar)


def busy_from_ics(
    data: bytes,
    first: datetime,
    last: datetime,
    *,
    tz: ZoneInfo = TOKYO,
    max_occurrences: int = MAX_OCCURRENCES,
) -> list[TimeRange]:
    """Merged busy intervals of an external calendar, clipped to ``[first, last)``.

    Recurrences are expanded; transparent and cancelled events are free time.
    All-day events and floating times use the calendar's X-WR-TIMEZONE, else
    ``tz``; results are expressed in ``tz``. Raises ``CalendarParseError`` if
    the data cannot be read or holds more than ``max_occurrences`` events in
    the window.
    """
    for value in (first, last):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: busy_from_ics needs aware datetimes")
    if not first < last:
        return []
    try:
        calendars = icalendar.Calendar.from_ical(data, multiple=True)
    except ValueError as error:
        raise CalendarParseError(f"not an iCalendar document: {error}") from error
    if not calendars or any(c.name != "VCALENDAR" for c in calendars):
        raise CalendarParseError("no VCALENDAR found")

    spans: list[tuple[datetime, datetime]] = []
    for calendar in calendars:
        zone = _calendar_zone(calendar, tz)
        _check_events(calendar)
        spans.extend(_busy_spans(calendar, zone, first, last, max_occurrences))
    return [TimeRange(start.astimezone(tz), end.astimezone(tz)) for start, end in _merge(spans)]


def _calendar(prodid: str) -> icalendar.Calendar:
    calendar = icalendar.Calendar()
    calendar.add("prodid", prodid)
    calendar.add("version", "2.0")
    return calendar


def _serialize(calendar: icalendar.Calendar) -> bytes:
    data = calendar.to_ical()
    assert isinstance(data, bytes)
    return data


def _vevent(event: CalendarEvent, tz: ZoneInfo, *, reminder: bool) -> icalendar.Event:
    vevent = icalendar.Event()
    vevent.add("uid", event.uid)
    vevent.add("dtstamp", event.stamp.astimezone(UTC))
    vevent.add("dtstart", event.start.astimezone(tz))
    vevent.add("dtend", event.end.astimezone(tz))
    vevent.add("summary", event.summary)
    vevent.add("description", event.description)
    if event.url is not None:
        vevent.add("url", event.url)
    if event.location is not None:
        vevent.add("location", event.location)
    vevent.add("sequence", event.sequence)
    vevent.add("status", "CANCELLED" if event.cancelled else "CONFIRMED")
    # Lets a cancelled booking stop blocking the slot in free/busy lookups.
    vevent.add("transp", "TRANSPARENT" if event.cancelled else "OPAQUE")
    if reminder:
        alarm = icalendar.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", event.summary)
        alarm.add("trigger", -REMINDER_BEFORE)
        vevent.add_component(alarm)
    return vevent


def _add_timezones(
    calendar: icalendar.Calendar, events: Sequence[CalendarEvent], tz: ZoneInfo
) -> None:
    if not events:
        return
    # The VTIMEZONE must start before the first event; a year each side is plenty.
    first_year = min(event.start.astimezone(tz).year for event in events)
    last_year = max(event.end.astimezone(tz).year for event in events)
    missing = calendar.get_missing_tzids()
    position = len(calendar.timezones)
    for tzid in sorted(missing):
        try:
            component = _vtimezone(tzid, first_year - 1, last_year + 2)
        except ValueError:
            continue
        calendar.subcomponents.insert(position, component)
        position += 1


@functools.lru_cache(maxsize=64)
def _vtimezone(tzid: str, first_year: int, last_year: int) -> icalendar.Timezone:
    """Building a VTIMEZONE walks years of transitions (~18 ms for Asia/Tokyo);
    every booking needs the same one, so build it once. Callers only serialise it."""
    return icalendar.Timezone.from_tzid(
        tzid, first_date=date(first_year, 1, 1), last_date=date(last_year, 1, 1)
    )


def _calendar_zone(calendar: icalendar.Calendar, default: ZoneInfo) -> ZoneInfo:
    name = calendar.get("X-WR-TIMEZONE")
    if name is None:
        return default
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise CalendarParseError(f"unknown X-WR-TIMEZONE {name!s}") from error


def _check_events(calendar: icalendar.Calendar) -> None:
    for component in calendar.walk("VEVENT"):
        for name, message in component.errors:
            if name in _TIME_PROPERTIES:
                raise CalendarParseError(f"bad {name} in an event: {message}")
        rules = component.get("RRULE", [])
        for rule in rules if isinstance(rules, list) else [rules]:
            for frequency in rule.get("FREQ", []):
                if str(frequency).upper() in _RUNAWAY_FREQUENCIES:
                    raise CalendarParseError(f"FREQ={frequency} is not supported for busy times")


def _busy_spans(
    calendar: icalendar.Calendar, zone: ZoneInfo, first: datetime, last: datetime, limit: int
) -> list[tuple[datetime, datetime]]:
    # Floating and all-day times are placed in `zone` only below, so ask for a
    # wider window and clip afterwards. Both bounds in UTC: the library wants
    # them in one zone.
    margin = timedelta(days=2)
    spans: list[tuple[datetime, datetime]] = []
    try:
        occurrences = recurring_ical_events.of(calendar).between(
            first.astimezone(UTC) - margin, last.astimezone(UTC) + margin
        )
        if len(occurrences) > limit:
            raise CalendarParseError(f"more than {limit} events in the window")
        for occurrence in occurrences:
            if str(occurrence.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
                continue
            if str(occurrence.get("STATUS", "")).upper() == "CANCELLED":
                continue
            start = max(_instant(occurrence.start, zone), first)
            end = min(_instant(occurrence.end, zone), last)
            if start < end:
                spans.append((start, end))
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as error:
        raise CalendarParseError(f"cannot expand the calendar's events: {error}") from error
    return spans


def _instant(value: date | datetime, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value
        return local_datetime(value.date(), value.time(), zone)
    return local_datetime(value, time(0), zone)


def _merge(spans: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
