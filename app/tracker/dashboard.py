"""Dashboard figures for a department or the whole city over a date range.

Everything is aggregated in SQL (``percentile_cont`` on PostgreSQL); SQLite,
the small embedded default, gets the percentiles from the sorted values.
Days are city days (``tz``); the zone's offset at the start of the range is
used for grouping, exact for Japan, which has no daylight saving time.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Date, Index, Integer, Select, case, cast, func, select, text
from sqlalchemy.orm import Session

from app.tracker.models import RecordChannel, RecordKind, SessionRecord
from scheduler.calendar import closed_dates
from scheduler.models import Booking, Branch, DepartmentHours, Service
from scheduler.service import SchedulingService

QUARTER = 15  # minutes: office hours are compared at this resolution

# The dashboard counts requests by when bookings were made.
Index("ix_bookings_created_at", Booking.created_at)


@dataclass(frozen=True, slots=True)
class Dashboard:
    first: date
    last: date
    calls_per_day: list[tuple[date, int, int]] = field(default_factory=list)  # day, booked, walk-in
    bookings: int = 0
    walk_ins: int = 0
    wait_median: float | None = None
    wait_p90: float | None = None
    talk_median: float | None = None
    talk_total: int = 0
    no_shows: int = 0
    kiosk_by_branch: list[tuple[str, int]] = field(default_factory=list)
    requests: int = 0
    requests_outside_hours: int = 0

    @property
    def calls(self) -> int:
        return self.bookings + self.walk_ins

    @property
    def no_show_rate(self) -> float | None:
        return self.no_shows / self.calls if self.calls else None

    @property
    def outside_hours_share(self) -> float | None:
        return self.requests_outside_hours / self.requests if self.requests else None


def _bounds(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    lo = datetime.combine(first, time(), tz).astimezone(UTC)
    hi = datetime.combine(last + timedelta(days=1), time(), tz).astimezone(UTC)
    return lo, hi


def _offset_hours(moment: datetime, tz: ZoneInfo) -> int:
    offset = moment.astimezone(tz).utcoffset()
    return int(offset.total_seconds() // 3600) if offset else 0


def _local_parts(
    session: Session, column: Any, offset: int, tz: ZoneInfo
) -> tuple[ColumnElement[Any], ColumnElement[int], ColumnElement[int], ColumnElement[int]]:
    """(local date, or its ISO text on SQLite; weekday 0=Mon; hour; quarter) of a UTC column."""
    if session.get_bind().dialect.name == "postgresql":
        local = func.timezone(tz.key, column)  # exact local wall time, DST included
        day: ColumnElement[Any] = cast(local, Date)
        weekday = cast(func.extract("isodow", local), Integer) - 1
        hour = cast(func.extract("hour", local), Integer)
        minute = cast(func.extract("minute", local), Integer)
    else:
        shift = f"{offset:+d} hours"
        day = func.strftime("%Y-%m-%d", column, shift)
        weekday = (cast(func.strftime("%w", column, shift), Integer) + 6) % 7
        hour = cast(func.strftime("%H", column, shift), Integer)
        minute = cast(func.strftime("%M", column, shift), Integer)
    return day, weekday, hour, minute // QUARTER


def _day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _percentiles(session: Session, stmt: Select[Any]) -> tuple[float | None, float | None]:
    """Median and 90th percentile (inclusive, as ``percentile_cont``) in Python."""
    values = sorted(v for v in session.scalars(stmt) if v is not None)
    if not values:
        return None, None
    if len(values) == 1:
        return float(values[0]), float(values[0])
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    return float(statistics.median(values)), float(deciles[8])


def _office_quarters(session: Session, department_id: int | None) -> set[tuple[int, int]]:
    """(weekday, quarter of the day) pairs inside opening hours."""
    stmt = select(DepartmentHours.weekday, DepartmentHours.start, DepartmentHours.end)
    if department_id is not None:
        stmt = stmt.where(DepartmentHours.department_id == department_id)
    out: set[tuple[int, int]] = set()
    for weekday, start, end in session.execute(stmt):
        q = (start.hour * 60 + start.minute) // QUARTER
        while q * QUARTER < end.hour * 60 + end.minute:
            out.add((weekday, q))
            q += 1
    return out


def build_dashboard(
    session: Session, first: date, last: date, tz: ZoneInfo, department_id: int | None = None
) -> Dashboard:
    lo, hi = _bounds(first, last, tz)
    offset = _offset_hours(lo, tz)
    pg = session.get_bind().dialect.name == "postgresql"
    if pg:
        # JIT compilation costs more than these sub-second aggregates gain
        # (seconds on a busy machine); off for this transaction only.
        session.execute(text("SET LOCAL jit = off"))
    r = SessionRecord
    where = [r.started_at >= lo, r.started_at < hi]
    if department_id is not None:
        where.append(r.department_id == department_id)

    day, _, _, _ = _local_parts(session, r.started_at, offset, tz)
    walk_in = case((r.kind == RecordKind.WALK_IN.value, 1), else_=0)
    at_kiosk = case((r.channel == RecordChannel.KIOSK.value, 1), else_=0)
    # One scan for the counts by day and by branch; summed up below.
    cells = session.execute(
        select(
            day,
            r.branch_id,
            func.count(),
            func.sum(walk_in),
            func.sum(case((r.no_show, 1), else_=0)),
            func.sum(at_kiosk),
        )
        .where(*where)
        .group_by(day, r.branch_id)
    ).all()
    by_day: dict[date, list[int]] = {}
    by_branch: dict[int, int] = {}
    no_shows = 0
    for d, branch_id, n, w, ns, k in cells:
        totals = by_day.setdefault(_day(d), [0, 0])
        totals[0] += int(n) - int(w or 0)
        totals[1] += int(w or 0)
        no_shows += int(ns or 0)
        if branch_id is not None and k:
            by_branch[branch_id] = by_branch.get(branch_id, 0) + int(k)
    calls_per_day = [(d, b, w) for d, (b, w) in sorted(by_day.items())]
    walk_ins = sum(w for _, _, w in calls_per_day)
    bookings = sum(b for _, b, _ in calls_per_day)

    if pg:
        # One scan for all three percentiles and the sum (NULLs are ignored).
        row = session.execute(
            select(
                func.percentile_cont(0.5).within_group(r.wait_seconds),
                func.percentile_cont(0.9).within_group(r.wait_seconds),
                func.percentile_cont(0.5).within_group(r.talk_seconds),
                func.coalesce(func.sum(r.talk_seconds), 0),
            ).where(*where)
        ).one()
        wait_median, wait_p90, talk_median = (float(v) if v is not None else None for v in row[:3])
        talk_total = row[3]
    else:
        answered = select(r.wait_seconds).where(*where, r.wait_seconds.is_not(None))
        wait_median, wait_p90 = _percentiles(session, answered)
        talked = select(r.talk_seconds).where(*where, r.talk_seconds.is_not(None))
        talk_median, _ = _percentiles(session, talked)
        talk_total = session.scalar(
            select(func.coalesce(func.sum(r.talk_seconds), 0)).where(*where)
        )

    names: dict[int, str] = {
        b: name
        for b, name in session.execute(
            select(Branch.id, Branch.name_ja).where(Branch.id.in_(by_branch))
        )
    }
    kiosk = sorted(((names[b], n) for b, n in by_branch.items()), key=lambda x: (-x[1], x[0]))

    # Requests: bookings made in the range, by when the resident made them.
    b = Booking
    req_day, weekday, hour, quarter = _local_parts(session, b.created_at, offset, tz)
    req = select(req_day, weekday, hour * (60 // QUARTER) + quarter, func.count()).where(
        b.created_at >= lo, b.created_at < hi
    )
    if department_id is not None:
        req = req.join(Service, Service.id == b.service_id).where(
            Service.department_id == department_id
        )
    office = _office_quarters(session, department_id)
    # Public holidays, the year-end closure and the city's own closed days are
    # outside office hours whatever the weekly hours say.
    closed = closed_dates(SchedulingService(session, tz=tz).closure_policy(), first, last)
    requests = outside = 0
    for made_on, wd, q, n in session.execute(req.group_by(req_day, weekday, hour, quarter)):
        requests += n
        if _day(made_on) in closed or (int(wd), int(q)) not in office:
            outside += n
    return Dashboard(
        first=first,
        last=last,
        calls_per_day=calls_per_day,
        bookings=bookings,
        walk_ins=walk_ins,
        wait_median=wait_median,
        wait_p90=wait_p90,
        talk_median=talk_median,
        talk_total=int(talk_total or 0),
        no_shows=no_shows,
        kiosk_by_branch=[(name, int(n)) for name, n in kiosk],
        requests=requests,
        requests_outside_hours=outside,
    )
