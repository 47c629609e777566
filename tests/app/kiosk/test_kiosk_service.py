"""The kiosk rules as plain functions: booking codes, join windows, staffed hours."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.kiosk.service import CodeProblem, normalize_code, staffed, window_problem
from scheduler.calendar import closed_dates
from scheduler.types import ClosurePolicy, DateOverride, Hours, WeeklyWindow

TZ = ZoneInfo("Asia/Tokyo")
WEEKDAYS = Hours(
    weekly=tuple(
        WeeklyWindow(wd, start, end)
        for wd in range(5)
        for start, end in ((time(8, 30), time(12)), (time(13), time(17, 15)))
    )
)


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("MDG-AB23CD", "MDG-AB23CD"),
        ("ab23cd", "MDG-AB23CD"),
        (" mdg ab23 cd ", "MDG-AB23CD"),
        ("ＭＤＧ－ＡＢ２３ＣＤ", "MDG-AB23CD"),
        ("MDGーAB23CD", "MDG-AB23CD"),
        ("MDG-AB23C", None),  # too short
        ("MDG-AB23CDE", None),  # too long
        ("MDG-AB10CD", None),  # 0 and 1 are never in a code
        ("MDG-ABOICD", None),  # nor O and I
        ("", None),
        ("<script>", None),
    ],
)
def test_normalize_code(typed: str, code: str | None) -> None:
    assert normalize_code(typed) == code


def test_window_problem() -> None:
    start, end = at(30, 11), at(30, 11, 30)
    kw = {"opens_before": timedelta(minutes=15), "grace_after": timedelta(minutes=30)}
    assert window_problem(start, end, at(30, 10, 44), TZ, **kw) is CodeProblem.TOO_EARLY
    assert window_problem(start, end, at(30, 10, 45), TZ, **kw) is None
    assert window_problem(start, end, at(30, 11, 59), TZ, **kw) is None
    assert window_problem(start, end, at(30, 12, 0), TZ, **kw) is CodeProblem.PASSED
    assert window_problem(start, end, at(29, 11, 0), TZ, **kw) is CodeProblem.OTHER_DAY
    assert window_problem(start, end, at(1, 11, 0, month=12), TZ, **kw) is CodeProblem.OTHER_DAY


def test_staffed_now_and_next() -> None:
    closed = closed_dates(ClosurePolicy(), date(2026, 11, 1), date(2026, 12, 31))
    state = staffed([WEEKDAYS], closed, at(30, 9), TZ)
    assert state.open_now and state.closes_at == at(30, 12)
    assert state.next_open == at(30, 13)
    assert [(r.start, r.end) for r in state.today] == [
        (at(30, 8, 30), at(30, 12)),
        (at(30, 13), at(30, 17, 15)),
    ]
    lunch = staffed([WEEKDAYS], closed, at(30, 12, 30), TZ)
    assert not lunch.open_now and lunch.next_open == at(30, 13)
    evening = staffed([WEEKDAYS], closed, at(30, 18), TZ)
    assert not evening.open_now and evening.next_open == at(1, 8, 30, month=12)


def test_staffed_skips_holidays_and_takes_the_union_of_departments() -> None:
    # Monday 2026-11-23 is 勤労感謝の日 (Labour Thanksgiving Day).
    closed = closed_dates(ClosurePolicy(), date(2026, 11, 1), date(2026, 12, 31))
    state = staffed([WEEKDAYS], closed, at(23, 10), TZ)
    assert not state.open_now and state.today == ()
    assert state.next_open == at(24, 8, 30)
    # A department open that holiday by an override makes the kiosk staffed;
    # overlapping windows of two departments are merged.
    special = Hours(overrides=(DateOverride(date(2026, 11, 23), ((time(9), time(12, 30)),)),))
    late = Hours(overrides=(DateOverride(date(2026, 11, 23), ((time(12), time(15)),)),))
    state = staffed([WEEKDAYS, special, late], closed, at(23, 10), TZ)
    assert state.open_now and state.closes_at == at(23, 15)
    assert len(state.today) == 1


def test_year_end_closure_looks_past_new_year() -> None:
    closed = closed_dates(ClosurePolicy(), date(2026, 12, 1), date(2027, 1, 31))
    state = staffed([WEEKDAYS], closed, at(28, 18, month=12), TZ)
    # 12/29 - 1/3 closed; 2027-01-04 is a Monday.
    assert state.next_open == datetime(2027, 1, 4, 8, 30, tzinfo=TZ)
    assert staffed([], closed, at(28, 18, month=12), TZ).next_open is None
