"""Plain, frozen data the pure scheduler core works on.

Nothing here touches a database, a clock or the environment: the I/O layer
(``scheduler.service``) loads rows into these, and the core functions
(``scheduler.slots``, ``scheduler.allocation``) take them as arguments
together with ``now`` and the time zone.

All datetimes are timezone-aware. Weekly windows and date overrides are wall
clock times in the city's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum


class Channel(StrEnum):
    ONLINE = "online"  # video consultation from home
    KIOSK = "kiosk"  # remote counter at a branch kiosk


def _require_aware(*values: datetime) -> None:
    for value in values:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the scheduler needs aware datetimes")


@dataclass(frozen=True, slots=True, order=True)
class TimeRange:
    """Half-open interval ``[start, end)``."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _require_aware(self.start, self.end)
        if not self.start < self.end:
            raise ValueError(f"empty time range {self.start.isoformat()}..{self.end.isoformat()}")

    def overlaps(self, other: TimeRange) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: TimeRange) -> bool:
        return self.start <= other.start and other.end <= self.end


@dataclass(frozen=True, slots=True)
class WeeklyWindow:
    """Open from ``start`` to ``end`` every ``weekday`` (0 = Monday)."""

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0..6, got {self.weekday}")
        if not self.start < self.end:
            raise ValueError(f"window ends before it starts: {self.start}-{self.end}")


@dataclass(frozen=True, slots=True)
class DateOverride:
    """Replaces the weekly hours on one date.

    ``windows == ()`` means closed all day; otherwise the listed wall-clock
    windows are the hours for that day (e.g. extra Saturday hours).
    """

    day: date
    windows: tuple[tuple[time, time], ...] = ()

    def __post_init__(self) -> None:
        for start, end in self.windows:
            if not start < end:
                raise ValueError(f"override window ends before it starts: {start}-{end}")

    @property
    def closed(self) -> bool:
        return not self.windows


@dataclass(frozen=True, slots=True)
class ClosurePolicy:
    """Which dates a city is closed on, besides each department's own overrides.

    Holidays are Japanese public holidays from the ``holidays`` package; an
    explicit ``DateOverride`` with windows opens a department even on one.
    """

    public_holidays: bool = True
    year_end: bool = True  # 12/29 - 1/3
    extra_closed: frozenset[date] = frozenset()


@dataclass(frozen=True, slots=True)
class Hours:
    """Weekly hours plus per-date overrides (department opening or staff working)."""

    weekly: tuple[WeeklyWindow, ...] = ()
    overrides: tuple[DateOverride, ...] = ()


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    id: int
    department_id: int
    duration: timedelta
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)
    channels: frozenset[Channel] = frozenset({Channel.ONLINE})
    min_notice: timedelta = timedelta(hours=2)
    horizon: timedelta = timedelta(days=60)
    daily_cap: int | None = None
    # Start times fall on this grid from the start of each open window.
    slot_step: timedelta | None = None
    # Latest moment a resident may cancel/reschedule, measured before the start.
    change_cutoff: timedelta = timedelta(hours=2)

    def __post_init__(self) -> None:
        if self.duration <= timedelta(0):
            raise ValueError("service duration must be positive")
        if self.buffer_before < timedelta(0) or self.buffer_after < timedelta(0):
            raise ValueError("buffers cannot be negative")
        if self.daily_cap is not None and self.daily_cap < 0:
            raise ValueError("daily cap cannot be negative")
        if self.slot_step is not None and self.slot_step <= timedelta(0):
            raise ValueError("slot step must be positive")

    @property
    def step(self) -> timedelta:
        return self.slot_step or self.duration

    def busy_range(self, start: datetime) -> TimeRange:
        """What a booking starting at ``start`` blocks on the staff member's day."""
        return TimeRange(start - self.buffer_before, start + self.duration + self.buffer_after)


@dataclass(frozen=True, slots=True)
class StaffSpec:
    id: int
    skills: frozenset[int]  # service ids this person can handle
    hours: Hours = field(default_factory=Hours)
    leave: tuple[TimeRange, ...] = ()
    # Busy times from elsewhere (an imported external calendar).
    busy: tuple[TimeRange, ...] = ()


@dataclass(frozen=True, slots=True)
class InterpreterSpec:
    """An interpreter (sign language or a foreign language) booked with the staff member.

    ``busy`` holds the interpreter's confirmed bookings and other commitments;
    an interpreter is needed for the appointment itself, not the staff's buffers.
    """

    id: int
    languages: frozenset[str]
    hours: Hours = field(default_factory=Hours)
    busy: tuple[TimeRange, ...] = ()


@dataclass(frozen=True, slots=True)
class ExistingBooking:
    """A confirmed booking, as the slot computation needs to see it."""

    staff_id: int
    service_id: int
    start: datetime
    end: datetime
    busy: TimeRange  # start/end widened by that service's buffers


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime
    end: datetime
    staff_ids: tuple[int, ...]  # qualified staff free for the whole busy range
    # Interpreters of the requested language free for the appointment (none requested: ()).
    interpreter_ids: tuple[int, ...] = ()
