from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.calendar import closed_dates, open_windows
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

TOKYO = ZoneInfo("Asia/Tokyo")
MONDAY = date(2026, 12, 7)
TUESDAY = date(2026, 12, 8)
SERVICE_ID = 10
OTHER_SERVICE_ID = 11

# Department: weekdays 09:00-12:00 and 13:00-17:00.
DEPARTMENT = Hours(
    weekly=tuple(
        WeeklyWindow(day, start, end)
        for day in range(5)
        for start, end in ((time(9), time(12)), (time(13), time(17)))
    )
)
# Staff work a little longer than the counter is open, so buffers can fit.
STAFF_HOURS = Hours(weekly=tuple(WeeklyWindow(day, time(8, 30), time(17, 30)) for day in range(5)))
SERVICE = ServiceSpec(
    id=SERVICE_ID, department_id=1, duration=timedelta(minutes=30), min_notice=timedelta(0)
)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=TOKYO)


def staff(staff_id: int = 1, **changes: Any) -> StaffSpec:
    fields: dict[str, Any] = {"skills": frozenset({SERVICE_ID}), "hours": STAFF_HOURS}
    fields.update(changes)
    return StaffSpec(id=staff_id, **fields)


def booking(
    staff_id: int,
    start: datetime,
    minutes: int = 30,
    *,
    service_id: int = OTHER_SERVICE_ID,
    before: int = 0,
    after: int = 0,
) -> ExistingBooking:
    end = start + timedelta(minutes=minutes)
    busy = TimeRange(start - timedelta(minutes=before), end + timedelta(minutes=after))
    return ExistingBooking(staff_id, service_id, start, end, busy)


def query(**changes: Any) -> SlotQuery:
    fields: dict[str, Any] = {
        "service": SERVICE,
        "department_hours": DEPARTMENT,
        "staff": (staff(),),
        "bookings": (),
        "closures": ClosurePolicy(),
        "tz": TOKYO,
        "first_day": MONDAY,
        "last_day": MONDAY,
        "channel": Channel.ONLINE,
        "now": at(date(2026, 12, 1), 9),
    }
    fields.update(changes)
    return SlotQuery(**fields)


def service(**changes: Any) -> ServiceSpec:
    return dataclasses.replace(SERVICE, **changes)


def starts(slots: list[Slot]) -> list[str]:
    return [s.start.astimezone(TOKYO).strftime("%m-%d %H:%M") for s in slots]


def times(slots: list[Slot]) -> list[str]:
    return [s.start.astimezone(TOKYO).strftime("%H:%M") for s in slots]


MORNING = ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]
AFTERNOON = [f"{h}:{m}" for h in range(13, 17) for m in ("00", "30")]
FULL_DAY = MORNING + AFTERNOON


class TestGrid:
    def test_full_day_on_the_duration_grid(self) -> None:
        slots = compute_slots(query())
        assert times(slots) == FULL_DAY
        assert all(s.end - s.start == timedelta(minutes=30) for s in slots)
        assert all(s.staff_ids == (1,) for s in slots)
        assert slots[0].start == at(MONDAY, 9)
        assert slots[0].start.utcoffset() == timedelta(hours=9)

    def test_step_shorter_than_duration(self) -> None:
        slots = compute_slots(query(service=service(slot_step=timedelta(minutes=20))))
        # The grid restarts at 13:00; the last morning start is 11:20 (ends 11:50).
        assert times(slots)[:9] == [
            "09:00", "09:20", "09:40", "10:00", "10:20", "10:40", "11:00", "11:20", "13:00",
        ]  # fmt: skip

    def test_grid_starts_at_each_window_start(self) -> None:
        hours = Hours(weekly=(WeeklyWindow(0, time(9, 10), time(10, 30)),))
        slots = compute_slots(query(department_hours=hours))
        assert times(slots) == ["09:10", "09:40"]  # 10:10 would end at 10:40

    def test_appointment_must_fit_in_one_window(self) -> None:
        # Exactly the afternoon's four hours fit; the morning's three do not.
        assert times(compute_slots(query(service=service(duration=timedelta(hours=4))))) == [
            "13:00"
        ]
        assert compute_slots(query(service=service(duration=timedelta(hours=5)))) == []

    def test_slots_over_several_days_are_sorted(self) -> None:
        slots = compute_slots(query(first_day=date(2026, 12, 4), last_day=TUESDAY))
        days = [s.start.date() for s in slots]
        assert sorted(set(days)) == [date(2026, 12, 4), MONDAY, TUESDAY]  # no weekend
        assert [s.start for s in slots] == sorted(s.start for s in slots)
        assert len(slots) == 3 * len(FULL_DAY)

    def test_channel_not_offered(self) -> None:
        assert compute_slots(query(channel=Channel.KIOSK)) == []
        kiosk = service(channels=frozenset({Channel.KIOSK}))
        assert times(compute_slots(query(service=kiosk, channel=Channel.KIOSK))) == FULL_DAY

    def test_slot_times_do_not_depend_on_the_zone_of_now(self) -> None:
        local = compute_slots(query())
        utc = compute_slots(query(now=at(date(2026, 12, 1), 9).astimezone(UTC)))
        assert local == utc


class TestStaff:
    def test_two_staff_are_both_listed_sorted(self) -> None:
        slots = compute_slots(query(staff=(staff(7), staff(3))))
        assert {s.staff_ids for s in slots} == {(3, 7)}

    def test_staff_without_the_skill_is_not_a_candidate(self) -> None:
        unskilled = staff(2, skills=frozenset({OTHER_SERVICE_ID}))
        assert compute_slots(query(staff=(unskilled,))) == []
        slots = compute_slots(query(staff=(unskilled, staff(5))))
        assert {s.staff_ids for s in slots} == {(5,)}

    def test_staff_without_hours_is_never_free(self) -> None:
        assert compute_slots(query(staff=(staff(hours=Hours()),))) == []

    def test_staff_hours_limit_the_slots(self) -> None:
        mornings = Hours(weekly=(WeeklyWindow(0, time(8), time(12)),))
        slots = compute_slots(query(staff=(staff(1, hours=mornings), staff(2))))
        by_time = {t: s.staff_ids for t, s in zip(times(slots), slots, strict=True)}
        assert by_time["11:30"] == (1, 2)
        assert by_time["13:00"] == (2,)

    def test_leave_removes_only_that_person(self) -> None:
        away = staff(1, leave=(TimeRange(at(MONDAY, 13), at(MONDAY, 15)),))
        slots = compute_slots(query(staff=(away, staff(2))))
        by_time = {t: s.staff_ids for t, s in zip(times(slots), slots, strict=True)}
        assert by_time["11:30"] == (1, 2)
        assert [t for t, ids in by_time.items() if ids == (2,)] == [
            "13:00", "13:30", "14:00", "14:30",
        ]  # fmt: skip

    def test_whole_day_leave(self) -> None:
        away = staff(leave=(TimeRange(at(MONDAY, 0), at(TUESDAY, 0)),))
        slots = compute_slots(query(staff=(away,), last_day=TUESDAY))
        assert {s.start.date() for s in slots} == {TUESDAY}

    def test_imported_busy_time_blocks(self) -> None:
        busy = staff(busy=(TimeRange(at(MONDAY, 9, 15), at(MONDAY, 9, 45)),))
        assert times(compute_slots(query(staff=(busy,))))[:2] == ["10:00", "10:30"]

    def test_extra_busy_blocks_every_staff_member(self) -> None:
        kiosk_busy = (TimeRange(at(MONDAY, 10), at(MONDAY, 11)),)
        slots = compute_slots(query(staff=(staff(1), staff(2)), extra_busy=kiosk_busy))
        assert "10:00" not in times(slots)
        assert "10:30" not in times(slots)
        assert "11:00" in times(slots)

    def test_existing_booking_blocks_its_staff_member_only(self) -> None:
        taken = booking(1, at(MONDAY, 10))
        slots = compute_slots(query(staff=(staff(1), staff(2)), bookings=(taken,)))
        by_time = {t: s.staff_ids for t, s in zip(times(slots), slots, strict=True)}
        assert by_time["10:00"] == (2,)
        assert by_time["09:30"] == (1, 2)
        assert by_time["10:30"] == (1, 2)

    def test_fully_booked_time_is_not_offered(self) -> None:
        taken = (booking(1, at(MONDAY, 10)), booking(2, at(MONDAY, 9, 45), 60))
        slots = compute_slots(query(staff=(staff(1), staff(2)), bookings=taken))
        assert "10:00" not in times(slots)

    def test_bookings_of_unknown_staff_are_ignored(self) -> None:
        assert times(compute_slots(query(bookings=(booking(99, at(MONDAY, 10)),)))) == FULL_DAY


class TestBuffers:
    def test_buffer_after_colliding_with_a_booking(self) -> None:
        taken = booking(1, at(MONDAY, 10))
        slots = compute_slots(
            query(service=service(buffer_after=timedelta(minutes=15)), bookings=(taken,))
        )
        # 09:30 would block until 10:15, into the 10:00 booking.
        assert times(slots)[:3] == ["09:00", "10:30", "11:00"]

    def test_buffer_before_colliding_with_a_booking(self) -> None:
        taken = booking(1, at(MONDAY, 10))
        slots = compute_slots(
            query(service=service(buffer_before=timedelta(minutes=15)), bookings=(taken,))
        )
        # 10:30 would block from 10:15, inside the 10:00-10:30 booking.
        assert times(slots)[:3] == ["09:00", "09:30", "11:00"]

    def test_buffers_touching_a_booking_are_fine(self) -> None:
        taken = booking(1, at(MONDAY, 10, 45))
        slots = compute_slots(
            query(service=service(buffer_after=timedelta(minutes=15)), bookings=(taken,))
        )
        assert "10:00" in times(slots)  # busy 10:00-10:45 ends as the booking starts
        assert "10:30" not in times(slots)

    def test_existing_bookings_own_buffers_block(self) -> None:
        taken = booking(1, at(MONDAY, 10), after=20)
        slots = compute_slots(query(bookings=(taken,)))
        assert "10:30" not in times(slots)  # that booking is busy until 10:50
        assert "11:00" in times(slots)

    def test_buffers_must_fit_in_staff_hours(self) -> None:
        same_as_counter = staff(hours=DEPARTMENT)
        before = service(buffer_before=timedelta(minutes=10))
        after = service(buffer_after=timedelta(minutes=10))
        before_slots = times(compute_slots(query(service=before, staff=(same_as_counter,))))
        after_slots = times(compute_slots(query(service=after, staff=(same_as_counter,))))
        assert before_slots[0] == "09:30"
        assert "13:00" not in before_slots
        assert after_slots[-1] == "16:00"
        assert "11:30" not in after_slots
        # With staff on duty from 08:30 to 17:30 the buffers fit around the counter hours.
        assert times(compute_slots(query(service=before)))[0] == "09:00"
        assert times(compute_slots(query(service=after)))[-1] == "16:30"

    def test_buffers_need_not_fit_in_department_hours(self) -> None:
        padded = service(buffer_before=timedelta(minutes=30), buffer_after=timedelta(minutes=30))
        assert times(compute_slots(query(service=padded))) == FULL_DAY


class TestNoticeAndHorizon:
    def test_min_notice(self) -> None:
        now = at(MONDAY, 9, 10)
        slots = compute_slots(query(service=service(min_notice=timedelta(hours=2)), now=now))
        assert times(slots)[0] == "11:30"

    def test_min_notice_boundary_is_inclusive(self) -> None:
        now = at(MONDAY, 9)
        slots = compute_slots(query(service=service(min_notice=timedelta(hours=2)), now=now))
        assert times(slots)[0] == "11:00"

    def test_past_slots_are_never_offered(self) -> None:
        now = at(MONDAY, 10, 5)
        negative = service(min_notice=-timedelta(hours=1))
        assert times(compute_slots(query(service=negative, now=now)))[0] == "10:30"
        assert compute_slots(query(now=at(TUESDAY, 0))) == []

    def test_horizon(self) -> None:
        now = at(date(2026, 12, 1), 10)
        slots = compute_slots(query(service=service(horizon=timedelta(days=6)), now=now))
        assert times(slots) == ["09:00", "09:30", "10:00"]  # 10:00 is exactly at the horizon

    def test_tokyo_day_boundary_for_now(self) -> None:
        # 15:30Z on 12-02 is already 00:30 on 12-03 in Tokyo.
        now = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)
        slots = compute_slots(
            query(now=now, first_day=date(2026, 12, 2), last_day=date(2026, 12, 3))
        )
        assert {s.start.astimezone(TOKYO).date() for s in slots} == {date(2026, 12, 3)}
        assert times(slots) == FULL_DAY


class TestDailyCap:
    def test_cap_reached_closes_the_day(self) -> None:
        capped = service(daily_cap=2)
        taken = (
            booking(1, at(MONDAY, 9), service_id=SERVICE_ID),
            # Staff 99 is not in the query: the cap counts every booking of the service.
            booking(99, at(MONDAY, 14), service_id=SERVICE_ID),
        )
        slots = compute_slots(query(service=capped, bookings=taken, last_day=TUESDAY))
        assert {s.start.date() for s in slots} == {TUESDAY}

    def test_below_the_cap_is_open(self) -> None:
        capped = service(daily_cap=2)
        taken = (booking(1, at(MONDAY, 9), service_id=SERVICE_ID),)
        slots = compute_slots(query(service=capped, bookings=taken))
        assert times(slots) == FULL_DAY[1:]

    def test_other_services_do_not_count(self) -> None:
        capped = service(daily_cap=1)
        taken = (booking(1, at(MONDAY, 9), service_id=OTHER_SERVICE_ID),)
        assert times(compute_slots(query(service=capped, bookings=taken))) == FULL_DAY[1:]

    def test_zero_cap_offers_nothing(self) -> None:
        assert compute_slots(query(service=service(daily_cap=0))) == []

    def test_cap_counts_by_tokyo_date(self) -> None:
        capped = service(daily_cap=1)
        # 23:30Z on 12-06 is 08:30 on Monday 12-07 in Tokyo.
        early_monday = booking(99, datetime(2026, 12, 6, 23, 30, tzinfo=UTC), service_id=SERVICE_ID)
        # 14:00Z on 12-07 is 23:00 on Monday in Tokyo, not Tuesday.
        late_monday = booking(99, datetime(2026, 12, 7, 14, 0, tzinfo=UTC), service_id=SERVICE_ID)
        first = compute_slots(query(service=capped, bookings=(early_monday,), last_day=TUESDAY))
        assert {s.start.date() for s in first} == {TUESDAY}
        second = compute_slots(query(service=capped, bookings=(late_monday,), last_day=TUESDAY))
        assert {s.start.date() for s in second} == {TUESDAY}


class TestClosures:
    def test_public_holiday_is_closed(self) -> None:
        holiday = date(2026, 11, 23)  # 勤労感謝の日, a Monday
        base = query(first_day=holiday, last_day=holiday, now=at(date(2026, 11, 1), 9))
        assert compute_slots(base) == []
        open_anyway = ClosurePolicy(public_holidays=False)
        slots = compute_slots(dataclasses.replace(base, closures=open_anyway))
        assert times(slots) == FULL_DAY

    def test_year_end_closure(self) -> None:
        first, last = date(2026, 12, 28), date(2027, 1, 5)
        slots = compute_slots(query(first_day=first, last_day=last))
        assert {s.start.date() for s in slots} == {date(2026, 12, 28), date(2027, 1, 4), last}
        no_year_end = ClosurePolicy(year_end=False)
        slots = compute_slots(query(first_day=first, last_day=last, closures=no_year_end))
        assert date(2026, 12, 29) in {s.start.date() for s in slots}

    def test_extra_closed_date(self) -> None:
        closures = ClosurePolicy(extra_closed=frozenset({MONDAY}))
        assert compute_slots(query(closures=closures)) == []

    def test_department_override_on_a_holiday_needs_staff_too(self) -> None:
        holiday = date(2026, 11, 3)  # 文化の日
        opening = DateOverride(holiday, ((time(10), time(12)),))
        department = Hours(DEPARTMENT.weekly, (opening,))
        base = query(
            department_hours=department,
            first_day=holiday,
            last_day=holiday,
            now=at(date(2026, 11, 1), 9),
        )
        # Staff are off on the holiday like everyone else...
        assert compute_slots(base) == []
        # ...unless their own hours open it too.
        on_duty = staff(hours=Hours(STAFF_HOURS.weekly, (opening,)))
        slots = compute_slots(dataclasses.replace(base, staff=(on_duty,)))
        assert times(slots) == ["10:00", "10:30", "11:00", "11:30"]

    def test_department_override_closes_a_weekday(self) -> None:
        department = Hours(DEPARTMENT.weekly, (DateOverride(MONDAY),))
        slots = compute_slots(query(department_hours=department, last_day=TUESDAY))
        assert {s.start.date() for s in slots} == {TUESDAY}

    def test_saturday_opening(self) -> None:
        saturday = date(2026, 12, 12)
        opening = DateOverride(saturday, ((time(9), time(10)),))
        base = query(
            department_hours=Hours(DEPARTMENT.weekly, (opening,)),
            staff=(staff(hours=Hours(STAFF_HOURS.weekly, (opening,))),),
            first_day=saturday,
            last_day=saturday,
        )
        assert times(compute_slots(base)) == ["09:00", "09:30"]


class TestDaylightSaving:
    def test_grid_runs_in_real_time_across_a_clock_change(self) -> None:
        new_york = ZoneInfo("America/New_York")
        day = date(2026, 3, 8)  # clocks jump from 02:00 to 03:00
        hours = Hours(weekly=(WeeklyWindow(day.weekday(), time(0), time(5)),))
        hourly = service(duration=timedelta(hours=1))
        q = query(
            service=hourly,
            department_hours=hours,
            staff=(staff(hours=hours),),
            tz=new_york,
            first_day=day,
            last_day=day,
            now=datetime(2026, 3, 1, tzinfo=UTC),
        )
        slots = compute_slots(q)
        assert [s.start.strftime("%H:%M%z") for s in slots] == [
            "00:00-0500", "01:00-0500", "03:00-0400", "04:00-0400",
        ]  # fmt: skip
        assert all(s.start.tzinfo is new_york for s in slots)


class TestValidation:
    def test_naive_now_is_rejected(self) -> None:
        with pytest.raises(ValueError, match="naive"):
            query(now=datetime(2026, 12, 1, 9))

    def test_inverted_range_is_rejected(self) -> None:
        with pytest.raises(ValueError, match="after last day"):
            query(first_day=TUESDAY, last_day=MONDAY)

    def test_duplicate_staff_ids_are_rejected(self) -> None:
        with pytest.raises(ValueError, match="unique"):
            query(staff=(staff(1), staff(1)))


def reference_slots(q: SlotQuery) -> list[Slot]:
    """A deliberately naive re-statement of the rules, slot by slot and person by person."""
    spec = q.service
    if q.channel not in spec.channels:
        return []
    closed = closed_dates(q.closures, q.first_day, q.last_day)
    result: list[Slot] = []
    day = q.first_day
    while day <= q.last_day:
        city_closed = day in closed
        on_day = [b for b in q.bookings if b.service_id == spec.id]
        on_day = [b for b in on_day if b.start.astimezone(q.tz).date() == day]
        capped = spec.daily_cap is not None and len(on_day) >= spec.daily_cap
        starts: set[datetime] = set()
        for window in open_windows(q.department_hours, day, city_closed=city_closed, tz=q.tz):
            start = window.start.astimezone(UTC)
            while start + spec.duration <= window.end:
                starts.add(start)
                start += spec.step
        for start in sorted(starts):
            if capped or start < q.now or start < q.now + spec.min_notice:
                continue
            if start > q.now + spec.horizon:
                continue
            busy = spec.busy_range(start)
            free = []
            for member in q.staff:
                if spec.id not in member.skills:
                    continue
                hours = open_windows(member.hours, day, city_closed=city_closed, tz=q.tz)
                if not any(w.contains(busy) for w in hours):
                    continue
                taken = [b.busy for b in q.bookings if b.staff_id == member.id]
                blocked = [*taken, *member.leave, *member.busy, *q.extra_busy]
                if any(r.overlaps(busy) for r in blocked):
                    continue
                free.append(member.id)
            if free:
                result.append(
                    Slot(
                        start.astimezone(q.tz),
                        (start + spec.duration).astimezone(q.tz),
                        tuple(sorted(free)),
                    )
                )
        day += timedelta(days=1)
    return result


BASE_DAY = date(2026, 12, 7)
quarter_hours = st.integers(min_value=0, max_value=4 * 24 * 4).map(
    lambda n: (
        datetime.combine(BASE_DAY, time(0), tzinfo=TOKYO) + timedelta(minutes=15 * n - 24 * 60)
    )
)
minutes = st.sampled_from([5, 10, 15, 20, 30, 45, 60, 90])


@st.composite
def time_ranges(draw: st.DrawFn) -> TimeRange:
    start = draw(quarter_hours)
    return TimeRange(start, start + timedelta(minutes=draw(minutes)))


@st.composite
def wall_windows(draw: st.DrawFn) -> tuple[time, time]:
    start = draw(st.integers(min_value=6 * 4, max_value=20 * 4))
    length = draw(st.integers(min_value=1, max_value=10 * 4))
    end = min(start + length, 24 * 4 - 1)
    return time(start // 4, start % 4 * 15), time(end // 4, end % 4 * 15)


@st.composite
def hours_strategy(draw: st.DrawFn) -> Hours:
    weekly = tuple(
        WeeklyWindow(weekday, start, end)
        for weekday in draw(st.sets(st.integers(0, 6), max_size=7))
        for start, end in draw(st.lists(wall_windows(), min_size=1, max_size=2))
    )
    overrides = tuple(
        DateOverride(
            BASE_DAY + timedelta(days=offset), tuple(draw(st.lists(wall_windows(), max_size=2)))
        )
        for offset in draw(st.sets(st.integers(0, 2), max_size=2))
    )
    return Hours(weekly, overrides)


@st.composite
def slot_queries(draw: st.DrawFn) -> SlotQuery:
    spec = ServiceSpec(
        id=SERVICE_ID,
        department_id=1,
        duration=timedelta(minutes=draw(st.sampled_from([15, 20, 30, 45, 60]))),
        buffer_before=timedelta(minutes=draw(st.sampled_from([0, 0, 5, 10, 15]))),
        buffer_after=timedelta(minutes=draw(st.sampled_from([0, 0, 5, 10, 15]))),
        min_notice=timedelta(minutes=draw(st.sampled_from([-60, 0, 90, 240]))),
        horizon=timedelta(hours=draw(st.sampled_from([12, 48, 24 * 60, 24 * 60]))),
        daily_cap=draw(st.sampled_from([None, None, 0, 1, 3])),
        slot_step=draw(st.sampled_from([None, timedelta(minutes=10), timedelta(minutes=25)])),
    )
    team = tuple(
        StaffSpec(
            id=staff_id,
            skills=draw(
                st.sampled_from(
                    [frozenset({SERVICE_ID, OTHER_SERVICE_ID})] * 3
                    + [frozenset({OTHER_SERVICE_ID})]
                )
            ),
            hours=draw(st.sampled_from([STAFF_HOURS, DEPARTMENT]) | hours_strategy()),
            leave=tuple(draw(st.lists(time_ranges(), max_size=2))),
            busy=tuple(draw(st.lists(time_ranges(), max_size=3))),
        )
        for staff_id in draw(st.sets(st.integers(1, 5), min_size=1, max_size=4))
    )
    bookings = []
    for _ in range(draw(st.integers(0, 25))):
        start = draw(quarter_hours)
        end = start + timedelta(minutes=draw(minutes))
        busy = TimeRange(
            start - timedelta(minutes=draw(st.sampled_from([0, 5, 15]))),
            end + timedelta(minutes=draw(st.sampled_from([0, 5, 15]))),
        )
        bookings.append(
            ExistingBooking(
                staff_id=draw(st.integers(1, 6)),
                service_id=draw(st.sampled_from([SERVICE_ID, OTHER_SERVICE_ID])),
                start=start,
                end=end,
                busy=busy,
            )
        )
    return SlotQuery(
        service=spec,
        department_hours=draw(st.sampled_from([DEPARTMENT]) | hours_strategy()),
        staff=team,
        bookings=tuple(bookings),
        closures=ClosurePolicy(
            extra_closed=draw(st.sampled_from([frozenset(), frozenset({BASE_DAY})]))
        ),
        tz=TOKYO,
        first_day=BASE_DAY,
        last_day=BASE_DAY + timedelta(days=2),
        channel=Channel.ONLINE,
        # Mostly before the range, sometimes inside it to exercise notice and past slots.
        now=datetime.combine(BASE_DAY, time(0), tzinfo=TOKYO)
        + timedelta(minutes=draw(st.integers(-24 * 60, 2 * 24 * 60)) // 2),
        extra_busy=tuple(draw(st.lists(time_ranges(), max_size=2))),
    )


class TestProperties:
    @settings(max_examples=200, deadline=None)
    @given(slot_queries())
    def test_no_slot_can_fail_to_be_honoured(self, q: SlotQuery) -> None:
        spec = q.service
        closed = closed_dates(q.closures, q.first_day, q.last_day)
        members = {m.id: m for m in q.staff}
        for slot in compute_slots(q):
            day = slot.start.astimezone(q.tz).date()
            appointment = TimeRange(slot.start, slot.end)
            busy = spec.busy_range(slot.start)
            department = open_windows(q.department_hours, day, city_closed=day in closed, tz=q.tz)
            assert any(w.contains(appointment) for w in department)
            assert slot.start >= q.now + max(spec.min_notice, timedelta(0))
            assert slot.start <= q.now + spec.horizon
            assert slot.staff_ids
            assert list(slot.staff_ids) == sorted(set(slot.staff_ids))
            for staff_id in slot.staff_ids:
                member = members[staff_id]
                assert spec.id in member.skills
                hours = open_windows(member.hours, day, city_closed=day in closed, tz=q.tz)
                assert any(w.contains(busy) for w in hours)
                taken = [b.busy for b in q.bookings if b.staff_id == staff_id]
                for blocked in (*taken, *member.leave, *member.busy, *q.extra_busy):
                    assert not blocked.overlaps(busy)

    @settings(max_examples=200, deadline=None)
    @given(slot_queries())
    def test_matches_a_naive_reference(self, q: SlotQuery) -> None:
        assert compute_slots(q) == reference_slots(q)

    @settings(max_examples=200, deadline=None)
    @given(slot_queries(), st.data())
    def test_slot_at_agrees_with_the_whole_grid(self, q: SlotQuery, data: st.DataObject) -> None:
        slots = compute_slots(q)
        by_start = {slot.start: slot for slot in slots}
        # Offered starts, plus instants that are not starts (off-grid, closed, taken).
        offered = [slot.start for slot in slots]
        other = data.draw(
            st.lists(
                st.integers(-2 * 24 * 60, 5 * 24 * 60).map(
                    lambda m: (
                        datetime.combine(BASE_DAY, time(0), tzinfo=TOKYO) + timedelta(minutes=m)
                    )
                ),
                max_size=5,
            )
        )
        for start in [*offered, *other]:
            assert slot_at(q, start) == by_start.get(start)

    def test_slot_at_refuses_a_naive_start(self) -> None:
        with pytest.raises(ValueError, match="naive"):
            slot_at(query(), datetime(2026, 12, 1, 10, 0))
