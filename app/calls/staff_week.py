"""A staff member's week: working hours, leave and bookings, day by day (Mon–Sun)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.calls.staff_queue import QueueReader, day_bounds
from scheduler.calendar import HoursIndex, closed_dates
from scheduler.models import Booking, HoursOverride, Staff, StaffLeave
from scheduler.service import SchedulingService
from scheduler.types import DateOverride, Hours, WeeklyWindow


def week_start(day: date) -> date:
    """The Monday of ``day``'s week (Japanese calendars at city halls start on Monday)."""
    return day - timedelta(days=day.weekday())


@dataclass
class DayPlan:
    day: date
    city_closed: bool
    hours: tuple[tuple[time, time], ...]
    leave: list[StaffLeave] = field(default_factory=list)
    bookings: list[Booking] = field(default_factory=list)


def staff_week(session: Session, staff: Staff, monday: date, tz: ZoneInfo) -> list[DayPlan]:
    sunday = monday + timedelta(days=6)
    overrides = session.scalars(
        select(HoursOverride).where(
            HoursOverride.staff_id == staff.id, HoursOverride.day.between(monday, sunday)
        )
    ).all()
    by_day: dict[date, list[tuple[time, time]]] = {}
    for row in overrides:
        windows = by_day.setdefault(row.day, [])  # a row without times closes the day
        if row.start is not None and row.end is not None:
            windows.append((row.start, row.end))
    index = HoursIndex(
        Hours(
            tuple(WeeklyWindow(h.weekday, h.start, h.end) for h in staff.hours),
            tuple(DateOverride(d, tuple(sorted(w))) for d, w in by_day.items()),
        )
    )
    closed = closed_dates(SchedulingService(session, tz=tz).closure_policy(), monday, sunday)
    lo, _ = day_bounds(monday, tz)
    _, hi = day_bounds(sunday, tz)
    leave = session.scalars(
        select(StaffLeave)
        .where(StaffLeave.staff_id == staff.id, StaffLeave.start_at < hi, StaffLeave.end_at > lo)
        .order_by(StaffLeave.start_at)
    ).all()
    days = []
    for n in range(7):
        day = monday + timedelta(days=n)
        plan = DayPlan(
            day=day,
            city_closed=day in closed,
            hours=index.wall_windows(day, city_closed=day in closed),
        )
        start, end = day_bounds(day, tz)
        plan.leave = [lv for lv in leave if lv.start_at < end and lv.end_at > start]
        days.append(plan)
    for booking in QueueReader(session, tz).bookings(staff, monday, sunday):
        local_day = booking.start_at.astimezone(tz).date()
        days[(local_day - monday).days].bookings.append(booking)
    return days
