"""The app's clocks: the offset clock starts where the test says and then runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.core.clock import OffsetClock

TOKYO = ZoneInfo("Asia/Tokyo")


class Ticks:
    """A monotonic source moved by hand."""

    def __init__(self, value: float) -> None:
        self.value = value

    def __call__(self) -> float:
        return self.value


def test_the_offset_clock_starts_at_its_start_and_runs_at_real_speed() -> None:
    ticks = Ticks(1000.0)
    clock = OffsetClock(datetime(2026, 12, 9, 10, 0, tzinfo=TOKYO), monotonic=ticks)
    assert clock.now() == datetime(2026, 12, 9, 1, 0, tzinfo=UTC)
    assert clock.now().tzinfo is UTC
    ticks.value += 90.5
    assert clock.now() == datetime(2026, 12, 9, 1, 1, 30, 500000, tzinfo=UTC)


def test_clocks_with_the_same_start_and_since_agree() -> None:
    """A test and the app it serves in another process read the same time."""
    ticks = Ticks(50.0)
    start = datetime(2026, 12, 9, 10, 0, tzinfo=TOKYO)
    first = OffsetClock(start, monotonic=ticks)
    ticks.value = 80.0
    second = OffsetClock(start, since=first.since, monotonic=ticks)
    assert second.now() == first.now() == start + timedelta(seconds=30)


def test_the_offset_clock_follows_the_real_monotonic_clock() -> None:
    clock = OffsetClock(datetime(2026, 12, 9, 23, 50, tzinfo=TOKYO))
    first = clock.now()
    second = clock.now()
    assert datetime(2026, 12, 9, 23, 50, tzinfo=TOKYO) <= first <= second
    assert second - first < timedelta(minutes=1)


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        OffsetClock(datetime(2026, 12, 9, 10, 0))
