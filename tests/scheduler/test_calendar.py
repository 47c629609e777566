from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduler.calendar import closed_by_notice, closed_dates, local_datetime, open_windows
from scheduler.types import ClosurePolicy, DateOverride, Hours, TimeRange, WeeklyWindow

TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")

WEEKDAYS = Hours(
    weekly=tuple(
        WeeklyWindow(day, start, end)
        for day in range(5)
        # Listed afternoon first to check the result is sorted.
        for start, end in ((time(13), time(17, 15)), (time(8, 30), time(12)))
    )
)


def tokyo(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=TOKYO)


class TestClosedDates:
    def test_public_holidays_are_closed(self) -> None:
        closed = closed_dates(ClosurePolicy(), date(2026, 11, 1), date(2026, 11, 30))
        assert closed == {date(2026, 11, 3), date(2026, 11, 23)}  # 文化の日, 勤労感謝の日

    def test_substitute_and_citizens_holidays_are_closed(self) -> None:
        closed = closed_dates(ClosurePolicy(), date(2026, 5, 1), date(2026, 9, 30))
        # 憲法記念日 falls on a Sunday in 2026, so 5/6 is a 振替休日; 9/22 is a
        # 国民の休日 sandwiched between 敬老の日 and 秋分の日.
        assert date(2026, 5, 6) in closed
        assert date(2026, 9, 22) in closed
        assert date(2026, 5, 7) not in closed

    def test_holidays_can_be_switched_off(self) -> None:
        policy = ClosurePolicy(public_holidays=False, year_end=False)
        assert closed_dates(policy, date(2026, 11, 1), date(2026, 11, 30)) == frozenset()

    def test_year_end_closure(self) -> None:
        closed = closed_dates(ClosurePolicy(), date(2026, 12, 25), date(2027, 1, 8))
        expected = {date(2026, 12, 29) + timedelta(days=n) for n in range(6)}
        assert closed == expected
        assert date(2026, 12, 28) not in closed
        assert date(2027, 1, 4) not in closed

    def test_year_end_closure_can_be_switched_off(self) -> None:
        policy = ClosurePolicy(year_end=False)
        closed = closed_dates(policy, date(2026, 12, 25), date(2027, 1, 8))
        # New Year's Day stays closed: it is a public holiday in its own right.
        assert closed == {date(2027, 1, 1)}

    def test_range_starting_inside_the_previous_years_closure(self) -> None:
        closed = closed_dates(
            ClosurePolicy(public_holidays=False), date(2027, 1, 2), date(2027, 1, 5)
        )
        assert closed == {date(2027, 1, 2), date(2027, 1, 3)}

    def test_extra_closed_dates_only_within_the_range(self) -> None:
        policy = ClosurePolicy(
            public_holidays=False,
            year_end=False,
            extra_closed=frozenset({date(2026, 6, 10), date(2026, 7, 1)}),
        )
        assert closed_dates(policy, date(2026, 6, 1), date(2026, 6, 30)) == {date(2026, 6, 10)}

    def test_range_is_inclusive_and_may_be_a_single_day(self) -> None:
        assert closed_dates(ClosurePolicy(), date(2026, 11, 3), date(2026, 11, 3)) == {
            date(2026, 11, 3)
        }
        assert closed_dates(ClosurePolicy(), date(2026, 11, 4), date(2026, 11, 4)) == frozenset()

    def test_inverted_range_is_empty(self) -> None:
        assert closed_dates(ClosurePolicy(), date(2026, 11, 30), date(2026, 11, 1)) == frozenset()


class TestOpenWindows:
    def test_weekday_windows_are_aware_and_sorted(self) -> None:
        day = date(2026, 12, 7)  # Monday
        windows = open_windows(WEEKDAYS, day, city_closed=False, tz=TOKYO)
        assert windows == [
            TimeRange(tokyo(day, 8, 30), tokyo(day, 12)),
            TimeRange(tokyo(day, 13), tokyo(day, 17, 15)),
        ]
        assert windows[0].start.utcoffset() == timedelta(hours=9)
        assert windows[0].start.tzinfo is TOKYO

    def test_weekend_has_no_windows(self) -> None:
        assert open_windows(WEEKDAYS, date(2026, 12, 5), city_closed=False, tz=TOKYO) == []

    def test_city_closure_closes_the_day(self) -> None:
        assert open_windows(WEEKDAYS, date(2026, 11, 3), city_closed=True, tz=TOKYO) == []

    def test_override_opens_a_closed_holiday(self) -> None:
        day = date(2026, 11, 3)
        hours = Hours(WEEKDAYS.weekly, (DateOverride(day, ((time(10), time(12)),)),))
        windows = open_windows(hours, day, city_closed=True, tz=TOKYO)
        assert windows == [TimeRange(tokyo(day, 10), tokyo(day, 12))]

    def test_override_opens_a_saturday(self) -> None:
        day = date(2026, 12, 12)
        hours = Hours(WEEKDAYS.weekly, (DateOverride(day, ((time(9), time(12)),)),))
        assert open_windows(hours, day, city_closed=False, tz=TOKYO) == [
            TimeRange(tokyo(day, 9), tokyo(day, 12))
        ]

    def test_empty_override_closes_a_weekday(self) -> None:
        day = date(2026, 12, 7)
        hours = Hours(WEEKDAYS.weekly, (DateOverride(day),))
        assert open_windows(hours, day, city_closed=False, tz=TOKYO) == []
        assert open_windows(hours, day + timedelta(days=1), city_closed=False, tz=TOKYO) != []

    def test_override_replaces_weekly_hours(self) -> None:
        day = date(2026, 12, 7)
        hours = Hours(WEEKDAYS.weekly, (DateOverride(day, ((time(14), time(19)),)),))
        assert open_windows(hours, day, city_closed=False, tz=TOKYO) == [
            TimeRange(tokyo(day, 14), tokyo(day, 19))
        ]

    def test_last_override_for_a_date_wins(self) -> None:
        day = date(2026, 12, 7)
        hours = Hours(
            WEEKDAYS.weekly,
            (DateOverride(day, ((time(14), time(19)),)), DateOverride(day)),
        )
        assert open_windows(hours, day, city_closed=False, tz=TOKYO) == []


class TestDaylightSaving:
    """Tokyo has no DST, but the code must not rely on that."""

    def test_window_across_spring_forward_is_shorter_in_real_time(self) -> None:
        day = date(2026, 3, 8)
        hours = Hours(weekly=(WeeklyWindow(day.weekday(), time(1), time(4)),))
        [window] = open_windows(hours, day, city_closed=False, tz=NEW_YORK)
        assert window.end.astimezone(UTC) - window.start.astimezone(UTC) == timedelta(hours=2)

    def test_window_across_fall_back_is_longer_in_real_time(self) -> None:
        day = date(2026, 11, 1)
        hours = Hours(weekly=(WeeklyWindow(day.weekday(), time(0), time(3)),))
        [window] = open_windows(hours, day, city_closed=False, tz=NEW_YORK)
        assert window.end.astimezone(UTC) - window.start.astimezone(UTC) == timedelta(hours=4)

    def test_skipped_wall_time_moves_forward_by_the_gap(self) -> None:
        moment = local_datetime(date(2026, 3, 8), time(2, 30), NEW_YORK)
        assert moment.astimezone(UTC) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
        assert (moment.hour, moment.minute) == (3, 30)

    def test_ambiguous_wall_time_takes_the_first_occurrence(self) -> None:
        moment = local_datetime(date(2026, 11, 1), time(1, 30), NEW_YORK)
        assert moment.astimezone(UTC) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)

    def test_window_collapsed_by_the_gap_is_dropped(self) -> None:
        day = date(2026, 3, 8)
        # 02:30 does not exist and becomes 03:30, which is after 03:10.
        hours = Hours(weekly=(WeeklyWindow(day.weekday(), time(2, 30), time(3, 10)),))
        assert open_windows(hours, day, city_closed=False, tz=NEW_YORK) == []

    @pytest.mark.parametrize("wall", [time(0), time(8, 30), time(23, 59)])
    def test_tokyo_is_always_plus_nine(self, wall: time) -> None:
        moment = local_datetime(date(2026, 7, 1), wall, TOKYO)
        assert moment.utcoffset() == timedelta(hours=9)
        assert moment.time() == wall


class TestClosedByNotice:
    """A day the notice rule has closed is not full: it has no waiting list."""

    DAY = date(2026, 11, 30)  # a Monday: 08:30-12:00 and 13:00-17:15

    def windows(self) -> list[TimeRange]:
        return open_windows(WEEKDAYS, self.DAY, city_closed=False, tz=TOKYO)

    def closed(self, now: datetime, notice: timedelta = timedelta(hours=2)) -> bool:
        return closed_by_notice(self.windows(), timedelta(minutes=30), notice, now)

    def test_a_start_left_after_the_notice_keeps_the_day_open(self) -> None:
        # 14:45 + 2 h = 16:45, the very last start (17:15 - 30 min).
        assert not self.closed(tokyo(self.DAY, 14, 45))
        assert not self.closed(tokyo(self.DAY, 9))

    def test_no_start_left_after_the_notice_closes_the_day(self) -> None:
        assert self.closed(tokyo(self.DAY, 14, 46))
        assert self.closed(tokyo(self.DAY, 16))
        # A long notice closes the whole next day too.
        assert self.closed(tokyo(self.DAY - timedelta(days=1), 18), notice=timedelta(days=2))

    def test_a_closed_office_is_not_closed_by_notice(self) -> None:
        assert not closed_by_notice(
            [], timedelta(minutes=30), timedelta(hours=2), tokyo(self.DAY, 16)
        )
