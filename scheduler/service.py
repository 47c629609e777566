"""Database service of the scheduler: loads rows into the pure core, books.

This is the thin I/O layer around ``scheduler.slots`` and
``scheduler.allocation``. It owns every scheduling query; callers (the HTTP
API, the CLI) hand it a session and commit once. The never-double-book
guarantee is the database's (see the initial migration); this layer only
picks whom to try and falls back to the next qualified person on a conflict.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, delete, insert, literal, or_, select, union_all
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, joinedload, make_transient_to_detached, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from scheduler.allocation import rank_staff
from scheduler.calendar import closed_by_notice, closed_dates, open_windows
from scheduler.config_cache import cache
from scheduler.errors import (
    BookingCancelled,
    BookingNotFound,
    ChangeWindowClosed,
    InvalidBookingRequest,
    SlotUnavailable,
)
from scheduler.interpreter_service import load_interpreters
from scheduler.models import (
    Booking,
    BookingStatus,
    City,
    CityClosure,
    ConfigVersion,
    Department,
    DepartmentHours,
    ExternalBusy,
    HoursOverride,
    InterpreterLanguage,
    Kiosk,
    Service,
    Staff,
    StaffHours,
    StaffLeave,
    WaitlistEntry,
    WaitlistStatus,
    staff_skills,
)
from scheduler.slots import SlotQuery, compute_slots, slot_at
from scheduler.types import (
    Channel,
    ClosurePolicy,
    DateOverride,
    ExistingBooking,
    Hours,
    ServiceSpec,
    Slot,
    StaffSpec,
    TimeRange,
    WeeklyWindow,
)

log = logging.getLogger(__name__)

# Booking codes avoid 0/O and 1/I so they can be read out over the phone.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_PREFIX = "MDG-"
WAITLIST_OFFER_TTL = timedelta(hours=2)
# No service's buffer is this long; bookings further from the queried days cannot matter.
BUFFER_MARGIN = timedelta(hours=6)

# The statements every booking runs, built once: building a select and its
# cache key costs more CPU than PostgreSQL spends running it
# (docs/benchmarks.md, booking storm). Values go in as bound parameters.
# The configuration token rides along: the slot query that follows needs it,
# and a round trip of its own cost more than the subquery.
_SERVICE_WITH_DEPARTMENT = (
    select(Service, select(ConfigVersion.token).where(ConfigVersion.id == 1).scalar_subquery())
    .options(joinedload(Service.department))
    .where(Service.id == bindparam("service_id"))
)
# Staff qualified for the service, as a subquery: one cached statement per shape.
_SKILLED = select(staff_skills.c.staff_id).where(
    staff_skills.c.service_id == bindparam("service_id")
)
# Department and staff overrides in one statement (one round trip less).
_OVERRIDES = select(
    HoursOverride.department_id,
    HoursOverride.staff_id,
    HoursOverride.day,
    HoursOverride.start,
    HoursOverride.end,
).where(
    or_(
        HoursOverride.department_id == bindparam("department_id"),
        HoursOverride.staff_id.in_(_SKILLED),
    ),
    HoursOverride.day.between(bindparam("first"), bindparam("last")),
)
# Leave and imported busy times likewise, told apart by a literal column.
_BLOCKED = union_all(
    select(
        literal(True).label("leave"),
        StaffLeave.staff_id,
        StaffLeave.start_at,
        StaffLeave.end_at,
    ).where(
        StaffLeave.staff_id.in_(_SKILLED),
        StaffLeave.start_at < bindparam("hi"),
        StaffLeave.end_at > bindparam("lo"),
    ),
    select(
        literal(False).label("leave"),
        ExternalBusy.staff_id,
        ExternalBusy.start_at,
        ExternalBusy.end_at,
    ).where(
        ExternalBusy.staff_id.in_(_SKILLED),
        ExternalBusy.start_at < bindparam("hi"),
        ExternalBusy.end_at > bindparam("lo"),
    ),
)
_BOOKINGS_WINDOW = select(
    Booking.staff_id,
    Booking.service_id,
    Booking.start_at,
    Booking.end_at,
    Booking.busy_start,
    Booking.busy_end,
).where(
    Booking.status == BookingStatus.CONFIRMED,
    Booking.busy_start < bindparam("hi"),
    Booking.busy_end > bindparam("lo"),
    or_(Booking.staff_id.in_(_SKILLED), Booking.service_id == bindparam("service_id")),
)
_BOOKINGS_WINDOW_BUT_ONE = _BOOKINGS_WINDOW.where(Booking.id != bindparam("ignore_booking_id"))
# The mapped class's table: a Core statement, which the ORM runs without its
# bulk-insert machinery.
_BOOKINGS = cast(Table, Booking.__table__)
_INSERT_BOOKING = insert(_BOOKINGS).returning(_BOOKINGS.c.id)


def new_booking_code() -> str:
    # 32 symbols: five random bits each, so one byte per symbol without bias.
    return CODE_PREFIX + "".join(CODE_ALPHABET[b & 31] for b in secrets.token_bytes(6))


@dataclass(frozen=True, slots=True)
class BookingRequest:
    service_id: int
    start: datetime
    channel: Channel
    name: str
    email: str | None
    phone: str | None = None
    locale: str = "ja"
    kiosk_id: int | None = None
    booked_by_staff_id: int | None = None
    # Reserve an interpreter of this language (``InterpreterLanguage.code``) too.
    interpreter_language: str | None = None

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise InvalidBookingRequest("start must carry a UTC offset", field="start")
        if not self.name.strip():
            raise InvalidBookingRequest("name is required", field="name")
        if not self.email and not self.phone:
            raise InvalidBookingRequest("an email or a phone number is required", field="email")


def service_spec(service: Service) -> ServiceSpec:
    return ServiceSpec(
        id=service.id,
        department_id=service.department_id,
        duration=timedelta(minutes=service.duration_min),
        buffer_before=timedelta(minutes=service.buffer_before_min),
        buffer_after=timedelta(minutes=service.buffer_after_min),
        channels=frozenset(Channel(c) for c in service.channels.split(",") if c),
        min_notice=timedelta(minutes=service.min_notice_min),
        horizon=timedelta(days=service.horizon_days),
        daily_cap=service.daily_cap,
        slot_step=timedelta(minutes=service.slot_step_min) if service.slot_step_min else None,
        change_cutoff=timedelta(minutes=service.change_cutoff_min),
    )


def _overrides(rows: Sequence[Any]) -> tuple[DateOverride, ...]:
    """Rows with ``day``, ``start``, ``end`` (ORM objects or column tuples)."""
    by_day: dict[date, list[tuple[time, time]]] = {}
    for row in rows:
        windows = by_day.setdefault(row.day, [])
        if row.start is not None and row.end is not None:
            windows.append((row.start, row.end))
    return tuple(DateOverride(day, tuple(sorted(w))) for day, w in sorted(by_day.items()))


def _weekly(rows: Sequence[Any]) -> tuple[WeeklyWindow, ...]:
    return tuple(WeeklyWindow(r.weekday, r.start, r.end) for r in rows)


def _is_overlap_violation(exc: IntegrityError) -> bool:
    text = str(exc.orig)
    return "ex_bookings_staff_overlap" in text or "booking_overlap" in text


def _is_interpreter_overlap(exc: DBAPIError) -> bool:
    text = str(exc.orig)
    return "ex_bookings_interpreter_overlap" in text or "interpreter_overlap" in text


def _is_lost_race(exc: DBAPIError) -> bool:
    """Two transactions inserting overlapping rows for one person can deadlock
    inside the exclusion check (PostgreSQL 40P01); one of them loses, exactly
    as if the other had committed first."""
    if isinstance(exc, IntegrityError):
        return _is_overlap_violation(exc)
    return getattr(exc.orig, "sqlstate", None) in ("40P01", "40001")


def _is_code_collision(exc: IntegrityError) -> bool:
    text = str(exc.orig)
    return "uq_bookings_code" in text or "bookings.code" in text


class SchedulingService:
    def __init__(self, session: Session, *, tz: ZoneInfo) -> None:
        self.session = session
        self.tz = tz
        # Waiting-list offers made through this service, for the caller to mail.
        self.new_offers: list[WaitlistEntry] = []

    # -- reading -----------------------------------------------------------

    def closure_policy(self) -> ClosurePolicy:
        city = self.session.get(City, 1)
        extra = frozenset(self.session.scalars(select(CityClosure.day)))
        if city is None:
            return ClosurePolicy(extra_closed=extra)
        return ClosurePolicy(
            public_holidays=city.close_public_holidays,
            year_end=city.close_year_end,
            extra_closed=extra,
        )

    def get_service(self, service_id: int) -> Service:
        return self._service_and_token(service_id)[0]

    def _service_and_token(self, service_id: int) -> tuple[Service, str | None]:
        """The active service and the configuration token, read in one statement."""
        row = self.session.execute(
            _SERVICE_WITH_DEPARTMENT, {"service_id": service_id}
        ).one_or_none()
        if row is None or not row[0].active:
            raise InvalidBookingRequest("unknown service", field="service_id")
        return row[0], row[1]

    def departments(self) -> list[Department]:
        stmt = (
            select(Department)
            .options(selectinload(Department.services), selectinload(Department.hours))
            .order_by(Department.sort_order, Department.id)
        )
        return list(self.session.scalars(stmt))

    def _utc_bounds(self, first: date, last: date) -> tuple[datetime, datetime]:
        # The local days plus a margin, so buffers reaching past midnight are seen.
        lo = datetime.combine(first, time(), self.tz).astimezone(UTC) - BUFFER_MARGIN
        hi = datetime.combine(last + timedelta(days=1), time(), self.tz).astimezone(UTC)
        return lo, hi + BUFFER_MARGIN

    def _department_weekly(self, department_id: int) -> tuple[WeeklyWindow, ...]:
        rows = self.session.execute(
            select(DepartmentHours.weekday, DepartmentHours.start, DepartmentHours.end)
            .where(DepartmentHours.department_id == department_id)
            .order_by(DepartmentHours.weekday, DepartmentHours.start)
        ).all()
        return _weekly(rows)

    def _qualified(self, service_id: int) -> tuple[tuple[int, Hours], ...]:
        """Active staff with the skill, each with their weekly hours (no overrides).

        The ``Hours`` objects are kept in the configuration cache and shared by
        every query, so the slot computation can reuse what it derives from them."""
        staff_ids = list(
            self.session.scalars(
                select(Staff.id)
                .join(staff_skills, staff_skills.c.staff_id == Staff.id)
                .where(staff_skills.c.service_id == service_id, Staff.active.is_(True))
                .order_by(Staff.id)
            )
        )
        weekly: dict[int, list[Any]] = {sid: [] for sid in staff_ids}
        for row in self.session.execute(
            select(StaffHours.staff_id, StaffHours.weekday, StaffHours.start, StaffHours.end)
            .where(StaffHours.staff_id.in_(staff_ids))
            .order_by(StaffHours.staff_id, StaffHours.weekday, StaffHours.start)
        ):
            weekly[row.staff_id].append(row)
        return tuple((sid, Hours(_weekly(weekly[sid]))) for sid in staff_ids)

    def slot_query(
        self,
        service: Service,
        first: date,
        last: date,
        channel: Channel,
        now: datetime,
        *,
        kiosk_id: int | None = None,
        ignore_booking_id: int | None = None,
        interpreter_language: str | None = None,
        config_token: tuple[str | None] | None = None,
    ) -> SlotQuery:
        """``config_token``: the configuration token, when the caller read it
        with the service just before (in a 1-tuple: the token itself may be None)."""
        # Plain column tuples, not ORM entities: this runs on every booking and
        # entity construction was most of its cost (docs/benchmarks.md).
        lo, hi = self._utc_bounds(first, last)
        spec = service_spec(service)
        execute = self.session.execute
        config = (
            cache.view(self.session)
            if config_token is None
            else cache.view_at(self.session, config_token[0])
        )
        dept_hours = config.get(
            ("department-hours", service.department_id),
            lambda: Hours(self._department_weekly(service.department_id)),
        )
        qualified = config.get(("qualified-staff", service.id), lambda: self._qualified(service.id))
        params = {
            "service_id": service.id,
            "department_id": service.department_id,
            "first": first,
            "last": last,
            "lo": lo,
            "hi": hi,
        }
        dept_overrides: list[Any] = []
        overrides: dict[int, list[Any]] = {}
        for override in execute(_OVERRIDES, params):
            if override.department_id == service.department_id:
                dept_overrides.append(override)
            if override.staff_id is not None:
                overrides.setdefault(override.staff_id, []).append(override)
        leave: dict[int, list[TimeRange]] = {}
        busy: dict[int, list[TimeRange]] = {}
        for is_leave, sid, start, end in execute(_BLOCKED, params):
            (leave if is_leave else busy).setdefault(sid, []).append(TimeRange(start, end))

        stmt = _BOOKINGS_WINDOW
        if ignore_booking_id is not None:
            stmt = _BOOKINGS_WINDOW_BUT_ONE
            params["ignore_booking_id"] = ignore_booking_id
        bookings = tuple(
            ExistingBooking(
                staff_id=sid,
                service_id=svc_id,
                start=start,
                end=end,
                busy=TimeRange(busy_start, busy_end),
            )
            for sid, svc_id, start, end, busy_start, busy_end in execute(stmt, params)
        )
        extra_busy: tuple[TimeRange, ...] = ()
        if channel is Channel.KIOSK and kiosk_id is not None:
            kiosk_stmt = select(Booking.start_at, Booking.end_at).where(
                Booking.kiosk_id == kiosk_id,
                Booking.status == BookingStatus.CONFIRMED,
                Booking.start_at < hi,
                Booking.end_at > lo,
            )
            if ignore_booking_id is not None:
                kiosk_stmt = kiosk_stmt.where(Booking.id != ignore_booking_id)
            extra_busy = tuple(TimeRange(s, e) for s, e in execute(kiosk_stmt))

        skills = frozenset({service.id})
        staff = tuple(
            StaffSpec(
                id=sid,
                skills=skills,
                hours=(
                    Hours(hours.weekly, _overrides(overrides[sid])) if sid in overrides else hours
                ),
                leave=tuple(leave[sid]) if sid in leave else (),
                busy=tuple(busy[sid]) if sid in busy else (),
            )
            for sid, hours in qualified
        )
        return SlotQuery(
            service=spec,
            department_hours=(
                Hours(dept_hours.weekly, _overrides(dept_overrides))
                if dept_overrides
                else dept_hours
            ),
            staff=staff,
            bookings=bookings,
            closures=config.get("closures", self.closure_policy),
            tz=self.tz,
            first_day=first,
            last_day=last,
            channel=channel,
            now=now,
            extra_busy=extra_busy,
            interpreter_language=interpreter_language,
            interpreters=load_interpreters(
                self.session, interpreter_language, lo, hi, ignore_booking_id=ignore_booking_id
            )
            if interpreter_language is not None
            else (),
        )

    def check_interpreter_language(self, code: str | None) -> None:
        if code is not None and self.session.get(InterpreterLanguage, code) is None:
            raise InvalidBookingRequest(
                "unknown interpreter language", field="interpreter_language"
            )

    def availability(
        self,
        service_id: int,
        first: date,
        last: date,
        channel: Channel,
        now: datetime,
        *,
        kiosk_id: int | None = None,
        interpreter_language: str | None = None,
    ) -> list[Slot]:
        if last < first:
            raise InvalidBookingRequest("'to' is before 'from'", field="to")
        if (last - first).days > 92:
            raise InvalidBookingRequest("at most 92 days at once", field="to")
        service, token = self._service_and_token(service_id)
        self.check_interpreter_language(interpreter_language)
        # Nothing outside today..horizon is bookable; clamping also keeps
        # absurd dates (year 1, year 9999) away from the calendar arithmetic.
        today = now.astimezone(self.tz).date()
        first = max(first, today - timedelta(days=1))
        last = min(last, today + timedelta(days=service.horizon_days + 1))
        if last < first:
            return []
        return compute_slots(
            self.slot_query(
                service,
                first,
                last,
                channel,
                now,
                kiosk_id=kiosk_id,
                interpreter_language=interpreter_language,
                config_token=(token,),
            )
        )

    def booking_by_code(self, code: str) -> Booking:
        booking = self.session.scalar(select(Booking).where(Booking.code == code))
        if booking is None:
            raise BookingNotFound(code)
        return booking

    def booking(self, booking_id: int) -> Booking:
        booking = self.session.get(Booking, booking_id)
        if booking is None:
            raise BookingNotFound(str(booking_id))
        return booking

    def staff_bookings(self, staff_id: int, since: datetime) -> list[Booking]:
        stmt = (
            select(Booking)
            .where(Booking.staff_id == staff_id, Booking.end_at >= since)
            .options(selectinload(Booking.service))
            .order_by(Booking.start_at)
        )
        return list(self.session.scalars(stmt))

    # -- writing -----------------------------------------------------------

    def _free_slot(
        self,
        service: Service,
        start: datetime,
        channel: Channel,
        now: datetime,
        kiosk_id: int | None,
        ignore_booking_id: int | None = None,
        interpreter_language: str | None = None,
        config_token: tuple[str | None] | None = None,
    ) -> tuple[Slot, SlotQuery]:
        if channel.value not in service.channels.split(","):
            raise InvalidBookingRequest("this service is not offered on that channel", "channel")
        if channel is Channel.KIOSK:
            if kiosk_id is None:
                raise InvalidBookingRequest("a kiosk booking names its kiosk", field="kiosk_id")
            kiosk = self.session.get(Kiosk, kiosk_id)
            if kiosk is None or not kiosk.active:
                raise InvalidBookingRequest("unknown kiosk", field="kiosk_id")
        # Checked before any conversion: a start in year 1 or 9999 cannot be
        # moved to the city's zone, and is never a slot anyway.
        if not now - timedelta(days=1) <= start <= now + timedelta(days=service.horizon_days + 1):
            raise SlotUnavailable("that time is not available")
        day = start.astimezone(self.tz).date()
        if service.daily_cap is not None:
            # Serialise bookings of a capped service so the cap holds under
            # concurrency (SQLite already has a single writer).
            self.session.execute(
                select(Service.id).where(Service.id == service.id).with_for_update()
            )
        self.check_interpreter_language(interpreter_language)
        query = self.slot_query(
            service,
            day,
            day,
            channel,
            now,
            kiosk_id=kiosk_id,
            ignore_booking_id=ignore_booking_id,
            interpreter_language=interpreter_language,
            config_token=config_token,
        )
        slot = slot_at(query, start)
        if slot is None:
            raise SlotUnavailable("that time is not available")
        return slot, query

    def _insert_booking(self, values: dict[str, Any], service: Service) -> Booking:
        """One ``INSERT … RETURNING id``, and the row as a persistent ``Booking``.

        Not the unit of work: its flush of one new row was the largest share of
        a booking's CPU (docs/benchmarks.md, booking storm). Every column is
        given, so the object is complete without reading the row back.
        """
        booking_id = self.session.connection().execute(_INSERT_BOOKING, values).scalar_one()
        booking = Booking(id=booking_id, **values)
        make_transient_to_detached(booking)
        self.session.add(booking)
        # The loaded service (and its department) stay with the booking for the
        # mail and the response, instead of being loaded again.
        set_committed_value(booking, "service", service)
        return booking

    def book(self, req: BookingRequest, now: datetime) -> Booking:
        service, token = self._service_and_token(req.service_id)
        slot, query = self._free_slot(
            service,
            req.start,
            req.channel,
            now,
            req.kiosk_id,
            interpreter_language=req.interpreter_language,
            config_token=(token,),
        )
        spec = query.service
        busy = spec.busy_range(slot.start)
        day = slot.start.astimezone(self.tz).date()
        # A slot found for an interpreter language lists at least one of them;
        # without one, the pairs are (staff, None).
        interpreters: list[int | None] = (
            list(slot.interpreter_ids) if req.interpreter_language is not None else [None]
        )
        pairs = (
            (staff_id, interpreter_id)
            for interpreter_id in interpreters
            for staff_id in rank_staff(slot.staff_ids, query.bookings, day, self.tz)
        )
        taken_interpreters: set[int] = set()
        for staff_id, interpreter_id in pairs:
            if interpreter_id in taken_interpreters:
                continue
            for _attempt in range(3):
                values: dict[str, Any] = {
                    "code": new_booking_code(),
                    "room_id": secrets.token_hex(16),
                    "service_id": service.id,
                    "staff_id": staff_id,
                    "channel": req.channel.value,
                    "kiosk_id": req.kiosk_id if req.channel is Channel.KIOSK else None,
                    "start_at": slot.start,
                    "end_at": slot.end,
                    "busy_start": busy.start,
                    "busy_end": busy.end,
                    "status": BookingStatus.CONFIRMED,
                    "resident_name": req.name.strip(),
                    "resident_email": req.email,
                    "resident_phone": req.phone,
                    "locale": req.locale,
                    "sequence": 0,
                    "booked_by_staff_id": req.booked_by_staff_id,
                    "created_at": now,
                    "updated_at": now,
                    "cancelled_at": None,
                    "interpreter_id": interpreter_id,
                    "interpreter_language": req.interpreter_language,
                }
                try:
                    with self.session.begin_nested():
                        booking = self._insert_booking(values, service)
                except (IntegrityError, OperationalError) as exc:
                    if isinstance(exc, IntegrityError) and _is_code_collision(exc):
                        continue
                    if interpreter_id is not None and _is_interpreter_overlap(exc):
                        log.info(
                            "booking service=%s start=%s: interpreter %s taken concurrently",
                            service.id,
                            slot.start.isoformat(),
                            interpreter_id,
                        )
                        taken_interpreters.add(interpreter_id)
                        break
                    if _is_lost_race(exc):
                        log.info(
                            "booking service=%s start=%s: staff %s taken concurrently, trying next",
                            service.id,
                            slot.start.isoformat(),
                            staff_id,
                        )
                        break
                    raise
                log.info(
                    "booked %s service=%s staff=%s interpreter=%s start=%s",
                    booking.code,
                    service.id,
                    staff_id,
                    interpreter_id,
                    slot.start.isoformat(),
                )
                return booking
        raise SlotUnavailable("that time was just taken")

    def _check_changeable(self, booking: Booking, now: datetime, by_staff: bool) -> Service:
        if booking.status == BookingStatus.CANCELLED:
            raise BookingCancelled(booking.code)
        service = self.session.get(Service, booking.service_id)
        assert service is not None
        cutoff = booking.start_at - timedelta(minutes=service.change_cutoff_min)
        if not by_staff and now > cutoff:
            raise ChangeWindowClosed(cutoff)
        return service

    def cancel(self, booking: Booking, now: datetime, *, by_staff: bool = False) -> Booking:
        service = self._check_changeable(booking, now, by_staff)
        booking.status = BookingStatus.CANCELLED
        booking.cancelled_at = now
        booking.updated_at = now
        booking.sequence += 1
        self.session.flush()
        log.info("cancelled %s", booking.code)
        self.offer_to_waitlist(service, booking.start_at, booking.channel, now)
        return booking

    def reschedule(
        self, booking: Booking, new_start: datetime, now: datetime, *, by_staff: bool = False
    ) -> Booking:
        service = self._check_changeable(booking, now, by_staff)
        channel = Channel(booking.channel)
        old_start = booking.start_at
        slot, query = self._free_slot(
            service,
            new_start,
            channel,
            now,
            booking.kiosk_id,
            ignore_booking_id=booking.id,
            interpreter_language=booking.interpreter_language,
        )
        busy = query.service.busy_range(slot.start)
        day = slot.start.astimezone(self.tz).date()
        ranked = rank_staff(slot.staff_ids, query.bookings, day, self.tz)
        # Keep the same person when they are free: the resident may know them.
        if booking.staff_id in ranked:
            ranked.remove(booking.staff_id)
            ranked.insert(0, booking.staff_id)
        interpreters: list[int | None] = [None]
        if booking.interpreter_language is not None:
            interpreters = sorted(
                slot.interpreter_ids, key=lambda i: (i != booking.interpreter_id, i)
            )
        for staff_id, interpreter_id in ((s, i) for i in interpreters for s in ranked):
            try:
                with self.session.begin_nested():
                    booking.interpreter_id = interpreter_id
                    booking.staff_id = staff_id
                    booking.start_at = slot.start
                    booking.end_at = slot.end
                    booking.busy_start = busy.start
                    booking.busy_end = busy.end
                    booking.updated_at = now
                    booking.sequence += 1
            except (IntegrityError, OperationalError) as exc:
                self.session.refresh(booking)
                if _is_lost_race(exc) or _is_interpreter_overlap(exc):
                    continue
                raise
            log.info("rescheduled %s to %s", booking.code, slot.start.isoformat())
            self.offer_to_waitlist(service, old_start, booking.channel, now)
            return booking
        raise SlotUnavailable("that time was just taken")

    # -- waiting list --------------------------------------------------------

    def join_waitlist(
        self,
        service_id: int,
        day: date,
        name: str,
        email: str,
        now: datetime,
        *,
        phone: str | None = None,
        locale: str = "ja",
        channel: Channel = Channel.ONLINE,
    ) -> WaitlistEntry:
        service = self.get_service(service_id)
        if channel.value not in service.channels.split(","):
            raise InvalidBookingRequest("this service is not offered on that channel", "channel")
        if day < now.astimezone(self.tz).date():
            raise InvalidBookingRequest("that day has passed", field="day")
        if self.day_closed_by_notice(service, day, channel, now):
            # Nothing freed that day could be offered: the notice rule forbids it.
            raise InvalidBookingRequest("bookings for that day have closed", field="day")
        entry = WaitlistEntry(
            service_id=service.id,
            day=day,
            name=name.strip(),
            email=email,
            phone=phone,
            locale=locale,
            channel=channel.value,
            status=WaitlistStatus.WAITING,
            created_at=now,
        )
        try:
            with self.session.begin_nested():
                self.session.add(entry)
        except IntegrityError as exc:
            raise InvalidBookingRequest("already on the waiting list", field="email") from exc
        return entry

    def day_closed_by_notice(
        self, service: Service, day: date, channel: Channel, now: datetime
    ) -> bool:
        """``day`` is open but the notice rule leaves no start time (calendar.closed_by_notice)."""
        query = self.slot_query(service, day, day, channel, now)
        city_closed = day in closed_dates(query.closures, day, day)
        windows = open_windows(query.department_hours, day, city_closed=city_closed, tz=self.tz)
        spec = query.service
        return closed_by_notice(windows, spec.duration, spec.min_notice, now)

    def offer_to_waitlist(
        self, service: Service, start: datetime, channel: str, now: datetime
    ) -> WaitlistEntry | None:
        """Offer a freed start time to the first person waiting for that day."""
        spec = service_spec(service)
        latest_offer_end = start - spec.min_notice
        if latest_offer_end <= now:
            return None
        day = start.astimezone(self.tz).date()
        entry = self.session.scalar(
            select(WaitlistEntry)
            .where(
                WaitlistEntry.service_id == service.id,
                WaitlistEntry.day == day,
                WaitlistEntry.channel == channel,
                WaitlistEntry.status == WaitlistStatus.WAITING,
            )
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
            .limit(1)
        )
        if entry is None:
            return None
        entry.status = WaitlistStatus.OFFERED
        entry.offered_start = start
        entry.offer_expires_at = min(now + WAITLIST_OFFER_TTL, latest_offer_end)
        self.session.flush()
        self.new_offers.append(entry)
        log.info("waitlist entry %s offered service=%s start=%s", entry.id, service.id, start)
        return entry

    def expire_offers(self, now: datetime) -> list[WaitlistEntry]:
        """Lapse offers not taken in time and pass each slot on; returns new offers."""
        lapsed = self.session.scalars(
            select(WaitlistEntry).where(
                WaitlistEntry.status == WaitlistStatus.OFFERED,
                WaitlistEntry.offer_expires_at <= now,
            )
        ).all()
        offers: list[WaitlistEntry] = []
        for entry in lapsed:
            entry.status = WaitlistStatus.EXPIRED
            self.session.flush()
            service = self.session.get(Service, entry.service_id)
            assert service is not None and entry.offered_start is not None
            nxt = self.offer_to_waitlist(service, entry.offered_start, entry.channel, now)
            if nxt is not None:
                offers.append(nxt)
        return offers

    def pending_offers(self) -> list[WaitlistEntry]:
        return list(
            self.session.scalars(
                select(WaitlistEntry).where(WaitlistEntry.status == WaitlistStatus.OFFERED)
            )
        )

    def claim_offer(self, entry_id: int, now: datetime) -> Booking:
        entry = self.session.get(WaitlistEntry, entry_id)
        if entry is None or entry.status != WaitlistStatus.OFFERED:
            raise SlotUnavailable("this offer is no longer open")
        assert entry.offer_expires_at is not None and entry.offered_start is not None
        if now >= entry.offer_expires_at:
            raise SlotUnavailable("this offer has expired")
        booking = self.book(
            BookingRequest(
                service_id=entry.service_id,
                start=entry.offered_start,
                channel=Channel(entry.channel),
                name=entry.name,
                email=entry.email,
                phone=entry.phone,
                locale=entry.locale,
            ),
            now,
        )
        entry.status = WaitlistStatus.BOOKED
        entry.booking_id = booking.id
        self.session.flush()
        return booking

    # -- external busy times ---------------------------------------------------

    def replace_external_busy(self, staff_id: int, ranges: Sequence[TimeRange], source: str) -> int:
        if self.session.get(Staff, staff_id) is None:
            raise InvalidBookingRequest("unknown staff member", field="staff_id")
        self.session.execute(
            delete(ExternalBusy).where(
                ExternalBusy.staff_id == staff_id, ExternalBusy.source == source
            )
        )
        self.session.add_all(
            ExternalBusy(staff_id=staff_id, start_at=r.start, end_at=r.end, source=source)
            for r in ranges
        )
        self.session.flush()
        return len(ranges)
