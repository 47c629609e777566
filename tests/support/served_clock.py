"""The time the browser and media tests run the app at, whatever the wall clock says.

Those tests serve the whole app (with signaling and jobs) and book, queue and
call through it in real time, so its clock must run; but the test cities close
at 23:59 and a call booked late at night would be tomorrow's. The app
therefore runs on an ``OffsetClock`` that starts at ``CITY_OPEN``, a Wednesday
10:00 in Tokyo, inside every test city's hours and far from midnight, and runs
at real speed from there. The test reads the same clock (``OffsetClock`` with
the same start and ``since``) for the dates it asks for and the tokens it signs.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from app.core.clock import OffsetClock

TOKYO = ZoneInfo("Asia/Tokyo")
CITY_OPEN = datetime(2026, 12, 9, 10, 0, tzinfo=TOKYO)


def city_open_clock() -> OffsetClock:
    """A clock at ``CITY_OPEN`` now, running from here."""
    return OffsetClock(CITY_OPEN)
