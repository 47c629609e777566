from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduler.allocation import rank_staff
from scheduler.types import ExistingBooking, TimeRange

TOKYO = ZoneInfo("Asia/Tokyo")
DAY = date(2026, 12, 3)


def booking(staff_id: int, start: datetime) -> ExistingBooking:
    end = start + timedelta(minutes=30)
    return ExistingBooking(staff_id, 1, start, end, TimeRange(start, end))


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=TOKYO)


def test_least_loaded_that_day_first() -> None:
    bookings = [booking(1, at(DAY, 9)), booking(1, at(DAY, 10)), booking(2, at(DAY, 11))]
    assert rank_staff([1, 2, 3], bookings, DAY, TOKYO) == [3, 2, 1]


def test_other_days_do_not_count_as_load_but_break_ties() -> None:
    other_day = DAY - timedelta(days=1)
    bookings = [booking(1, at(other_day, 9)), booking(1, at(other_day, 10)), booking(2, at(DAY, 9))]
    # 1 is free that day despite two bookings the day before; 2 already has one.
    assert rank_staff([1, 2], bookings, DAY, TOKYO) == [1, 2]
    bookings.append(booking(3, at(other_day, 9)))
    # Same load that day (none): fewer bookings overall wins.
    assert rank_staff([1, 3], bookings, DAY, TOKYO) == [3, 1]


def test_tie_goes_to_whoever_has_waited_longest() -> None:
    earlier = DAY - timedelta(days=2)
    bookings = [booking(1, at(earlier, 15)), booking(2, at(earlier, 9))]
    assert rank_staff([1, 2], bookings, DAY, TOKYO) == [2, 1]


def test_someone_never_booked_goes_before_anyone_booked() -> None:
    bookings = [booking(1, at(DAY - timedelta(days=30), 9))]
    assert rank_staff([1, 4], bookings, DAY, TOKYO) == [4, 1]


def test_full_tie_is_broken_by_id() -> None:
    assert rank_staff([5, 2, 9], [], DAY, TOKYO) == [2, 5, 9]
    same = at(DAY, 9)
    assert rank_staff([7, 3], [booking(7, same), booking(3, same)], DAY, TOKYO) == [3, 7]


def test_day_is_the_tokyo_date() -> None:
    # 23:30Z on 12-02 is 08:30 on 12-03 in Tokyo: it loads 1 on the 3rd.
    bookings = [booking(1, datetime(2026, 12, 2, 23, 30, tzinfo=UTC)), booking(2, at(DAY, 9))]
    bookings.append(booking(2, at(DAY - timedelta(days=5), 9)))
    # 2 has one that day and two overall; 1 has one that day and one overall.
    assert rank_staff([1, 2], bookings, DAY, TOKYO) == [1, 2]
    # On the 2nd (Tokyo), 1's booking does not count, and 2 has none either.
    assert rank_staff([2, 1], bookings, DAY - timedelta(days=1), TOKYO) == [1, 2]


def test_latest_booking_compares_instants_across_zones() -> None:
    # 1's latest is 10:00 Tokyo (01:00Z); 2's latest is 00:30Z, earlier.
    bookings = [booking(1, at(DAY, 10)), booking(2, datetime(2026, 12, 3, 0, 30, tzinfo=UTC))]
    assert rank_staff([1, 2], bookings, DAY + timedelta(days=1), TOKYO) == [2, 1]


def test_only_candidates_are_returned_once_each() -> None:
    bookings = [booking(8, at(DAY, 9))]
    assert rank_staff([3, 3, 1], bookings, DAY, TOKYO) == [1, 3]
    assert rank_staff([], bookings, DAY, TOKYO) == []
