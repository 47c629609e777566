"""The one place the app reads the time; tests pass a fixed clock instead."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A settable clock for tests and simulations."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


class OffsetClock:
    """Starts at a chosen instant and runs at real speed from there.

    For tests that run the whole app (served in a subprocess, with signaling
    and jobs): the test picks the time of day, and calls, heartbeats and
    time-outs still progress. It follows ``time.monotonic``, not the wall
    clock, so it neither jumps when the machine's clock is set nor depends on
    what that clock says. CLOCK_MONOTONIC is one per machine, so processes
    given the same ``start`` and ``since`` read the same time.
    """

    def __init__(
        self,
        start: datetime,
        *,
        since: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("OffsetClock needs an aware start time")
        self.start = start.astimezone(UTC)
        self._monotonic = monotonic
        self.since = monotonic() if since is None else since

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self._monotonic() - self.since)
