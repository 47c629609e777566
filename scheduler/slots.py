"""Bookable slots of one service: a pure function of a ``SlotQuery``.

Times are turned into integer microseconds since the epoch up front: integer
comparisons are exact and much cheaper than comparing aware datetimes, and
arithmetic on them is immune to wall-clock (DST) surprises.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduler.calendar import HoursIndex, closed_dates, local_datetime
from scheduler.types import (
    Channel,
    ClosurePolicy,
    ExistingBooking,
    Hours,
    InterpreterSpec,
    ServiceSpec,
    Slot,
    StaffSpec,
    TimeRange,
)

__all__ = ["SlotQuery", "compute_slots", "slot_at"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

# (start, end) in epoch microseconds, half-open.
_Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class SlotQuery:
    """Everything ``compute_slots`` looks at; ``now`` is an argument, never read."""

    service: ServiceSpec
    department_hours: Hours
    staff: tuple[StaffSpec, ...]
    bookings: tuple[ExistingBooking, ...]
    closures: ClosurePolicy
    tz: ZoneInfo
    first_day: date
    last_day: date
    channel: Channel
    now: datetime
    # Busy times of a resource every booking of this service needs (e.g. a kiosk).
    extra_busy: tuple[TimeRange, ...] = ()
    # When set, a slot also needs one interpreter of this language free for it.
    interpreter_language: str | None = None
    interpreters: tuple[InterpreterSpec, ...] = ()

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError(f"naive now {self.now!r}: the scheduler needs aware datetimes")
        if self.first_day > self.last_day:
            raise ValueError(f"first day {self.first_day} is after last day {self.last_day}")
        ids = [member.id for member in self.staff]
        if len(ids) != len(set(ids)):
            raise ValueError("staff ids must be unique")
        interpreter_ids = [i.id for i in self.interpreters]
        if len(interpreter_ids) != len(set(interpreter_ids)):
            raise ValueError("interpreter ids must be unique")


def compute_slots(q: SlotQuery) -> list[Slot]:
    """Slots of ``q.service`` over ``q.first_day..q.last_day`` (local dates), by start."""
    return _slots(q, None)


def slot_at(q: SlotQuery, start: datetime) -> Slot | None:
    """The slot of ``compute_slots(q)`` starting at ``start``, or None.

    A booking asks about one start only; judging just that candidate skips
    the rest of the day's grid and the busy times far from it.
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError(f"naive start {start!r}: the scheduler needs aware datetimes")
    slots = _slots(q, _abs_us(start))
    return slots[0] if slots else None


def _slots(q: SlotQuery, only: int | None) -> list[Slot]:
    service = q.service
    if q.channel not in service.channels:
        return []
    staff = sorted((m for m in q.staff if service.id in m.skills), key=lambda m: m.id)
    if not staff:
        return []
    interpreters: list[InterpreterSpec] = []
    if q.interpreter_language is not None:
        interpreters = sorted(
            (i for i in q.interpreters if q.interpreter_language in i.languages),
            key=lambda i: i.id,
        )
        if not interpreters:
            return []

    closed = closed_dates(q.closures, q.first_day, q.last_day)
    clock = _WallClock(q.tz)
    grids = _start_grids(q, closed, clock)
    if only is not None:
        grids = [(day, [only]) for day, starts in grids if _contains(starts, only)]
    if not grids:
        return []

    duration = _us(service.duration)
    before = _us(service.buffer_before)
    after = _us(service.buffer_after)
    # Only busy times touching this envelope can affect any candidate slot.
    lo = min(starts[0] for _, starts in grids) - before
    hi = max(starts[-1] for _, starts in grids) + duration + after
    busy = _busy_by_staff(q, staff, lo, hi)
    interpreter_busy: dict[int, tuple[list[int], list[int]]] = {}
    for interpreter in interpreters:
        spans = (_span(r) for r in interpreter.busy)
        merged = _union(s for s in spans if s[1] > lo and s[0] < hi)
        interpreter_busy[interpreter.id] = ([s for s, _ in merged], [e for _, e in merged])

    slots: list[Slot] = []
    for day, starts in grids:
        free_staff: list[list[int]] = [[] for _ in starts]
        for member in staff:
            hours = clock.windows(member.hours, day, city_closed=day in closed)
            busy_starts, busy_ends = busy[member.id]
            index_ranges: list[tuple[int, int]] = []
            for free_start, free_end in _subtract(hours, busy_starts, busy_ends):
                # The whole busy range, buffers included, must fit in the free span.
                first = bisect_left(starts, free_start + before)
                last = bisect_right(starts, free_end - duration - after)
                if first < last:
                    index_ranges.append((first, last))
            if len(index_ranges) > 1:
                # Overlapping staff windows could list one start twice.
                index_ranges = _union(index_ranges)
            for first, last in index_ranges:
                for index in range(first, last):
                    free_staff[index].append(member.id)
        free_interpreters: list[list[int]] = [[] for _ in starts]
        for interpreter in interpreters:
            hours = clock.windows(interpreter.hours, day, city_closed=day in closed)
            busy_starts, busy_ends = interpreter_busy[interpreter.id]
            # The interpreter is needed for the appointment only, not the buffers.
            index_ranges = [
                (bisect_left(starts, free_start), bisect_right(starts, free_end - duration))
                for free_start, free_end in _subtract(hours, busy_starts, busy_ends)
            ]
            for first, last in _union(r for r in index_ranges if r[0] < r[1]):
                for index in range(first, last):
                    free_interpreters[index].append(interpreter.id)
        for start, ids, interpreter_ids in zip(starts, free_staff, free_interpreters, strict=True):
            if ids and (interpreter_ids or not interpreters):
                slots.append(
                    Slot(
                        start=_from_us(start, q.tz),
                        end=_from_us(start + duration, q.tz),
                        staff_ids=tuple(ids),
                        interpreter_ids=tuple(interpreter_ids),
                    )
                )
    return slots


def _start_grids(
    q: SlotQuery, closed: frozenset[date], clock: _WallClock
) -> list[tuple[date, list[int]]]:
    """Per local day, the sorted candidate starts allowed by department hours and service rules."""
    service = q.service
    duration = _us(service.duration)
    step = _us(service.step)
    # A negative minimum notice must still never offer a slot in the past.
    earliest = _us(q.now - _EPOCH + max(service.min_notice, timedelta(0)))
    latest = _us(q.now - _EPOCH + service.horizon)
    per_day = _bookings_per_day(q) if service.daily_cap is not None else Counter[date]()

    grids: list[tuple[date, list[int]]] = []
    for day in _days(q.first_day, q.last_day):
        if service.daily_cap is not None and per_day[day] >= service.daily_cap:
            continue
        starts: set[int] = set()
        for open_start, open_end in clock.windows(
            q.department_hours, day, city_closed=day in closed
        ):
            # Skip whole steps up to the earliest allowed start instead of walking them.
            skipped = max(0, -(-(earliest - open_start) // step))
            start = open_start + skipped * step
            while start + duration <= open_end and start <= latest:
                starts.add(start)
                start += step
        if starts:
            grids.append((day, sorted(starts)))
    return grids


def _contains(sorted_values: list[int], value: int) -> bool:
    index = bisect_left(sorted_values, value)
    return index < len(sorted_values) and sorted_values[index] == value


def _bookings_per_day(q: SlotQuery) -> Counter[date]:
    """Existing bookings of this service per local start date, for the daily cap."""
    return Counter(
        b.start.astimezone(q.tz).date() for b in q.bookings if b.service_id == q.service.id
    )


def _busy_by_staff(
    q: SlotQuery, staff: list[StaffSpec], lo: int, hi: int
) -> dict[int, tuple[list[int], list[int]]]:
    """Per staff id, merged busy spans overlapping ``[lo, hi)`` as parallel start/end lists."""
    spans: dict[int, list[_Span]] = {member.id: [] for member in staff}
    for booking in q.bookings:
        own = spans.get(booking.staff_id)
        if own is not None:
            own.append((_abs_us(booking.busy.start), _abs_us(booking.busy.end)))
    shared = [_span(r) for r in q.extra_busy]
    for member in staff:
        own = spans[member.id]
        own.extend(_span(r) for r in member.leave)
        own.extend(_span(r) for r in member.busy)
        own.extend(shared)
    result: dict[int, tuple[list[int], list[int]]] = {}
    for member_id, own in spans.items():
        merged = _union(s for s in own if s[1] > lo and s[0] < hi)
        result[member_id] = ([s for s, _ in merged], [e for _, e in merged])
    return result


def _subtract(
    windows: Iterable[_Span], busy_starts: list[int], busy_ends: list[int]
) -> Iterator[_Span]:
    """Parts of each window not covered by the merged busy spans."""
    for window_start, window_end in windows:
        cursor = window_start
        # Merged spans are disjoint and sorted, so their ends are sorted too.
        index = bisect_right(busy_ends, window_start)
        while index < len(busy_starts) and busy_starts[index] < window_end:
            if busy_starts[index] > cursor:
                yield cursor, busy_starts[index]
            cursor = max(cursor, busy_ends[index])
            index += 1
        if cursor < window_end:
            yield cursor, window_end


def _union(spans: Iterable[_Span]) -> list[_Span]:
    """Sorted, disjoint union of half-open spans; touching spans are joined."""
    merged: list[_Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


# HoursIndex of Hours objects that outlive one query (the service layer keeps
# staff members' weekly hours in a per-process cache): building the index per
# query and person was a visible share of a booking's CPU. Keyed by id, with
# the object kept alive beside its index so that an id is never reused while
# its entry is here; cleared when full, so per-query Hours cannot pile up.
_SHARED_INDEXES: dict[int, tuple[Hours, HoursIndex]] = {}
_SHARED_INDEXES_MAX = 4096


def _shared_index(hours: Hours) -> HoursIndex:
    entry = _SHARED_INDEXES.get(id(hours))
    if entry is not None and entry[0] is hours:
        return entry[1]
    index = HoursIndex(hours)
    if len(_SHARED_INDEXES) >= _SHARED_INDEXES_MAX:
        _SHARED_INDEXES.clear()
    _SHARED_INDEXES[id(hours)] = (hours, index)
    return index


class _WallClock:
    """Open windows as epoch-microsecond spans, memoising wall-time conversions.

    Most staff share the same few wall times, so one query converts each
    (date, time) once instead of once per person.
    """

    __slots__ = ("_indexes", "_instants", "_tz")

    def __init__(self, tz: ZoneInfo) -> None:
        self._tz = tz
        self._instants: dict[tuple[date, time], int] = {}
        self._indexes: dict[int, HoursIndex] = {}

    def windows(self, hours: Hours, day: date, *, city_closed: bool) -> list[_Span]:
        index = self._indexes.get(id(hours))
        if index is None:
            index = self._indexes[id(hours)] = _shared_index(hours)
        spans = []
        for start, end in index.wall_windows(day, city_closed=city_closed):
            span = (self._instant(day, start), self._instant(day, end))
            if span[0] < span[1]:
                spans.append(span)
        return spans

    def _instant(self, day: date, wall: time) -> int:
        key = (day, wall)
        instant = self._instants.get(key)
        if instant is None:
            instant = self._instants[key] = _abs_us(local_datetime(day, wall, self._tz))
        return instant


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _us(delta: timedelta) -> int:
    return delta // _MICROSECOND


def _abs_us(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def _span(r: TimeRange) -> _Span:
    return _abs_us(r.start), _abs_us(r.end)


def _from_us(instant: int, tz: ZoneInfo) -> datetime:
    return (_EPOCH + timedelta(microseconds=instant)).astimezone(tz)
