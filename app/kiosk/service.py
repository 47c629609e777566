"""The kiosk screen's domain: which kiosk a link opens, whether staff are on duty,
and which booking a resident may start from this kiosk by its code.

A kiosk is identified for now by an admin-issued signed link
(``Purpose.KIOSK``, claim ``k`` = kiosk id; issue 6 replaces it with pairing
codes). Routes stay thin: ``KioskService`` owns the queries, the rules are
plain functions over times so they can be tested without a database.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.core.tokens import Purpose, TokenInvalid, Tokens
from scheduler.calendar import closed_dates, open_windows
from scheduler.models import (
    Booking,
    BookingStatus,
    Department,
    HoursOverride,
    Kiosk,
    Service,
)
from scheduler.service import CODE_ALPHABET, CODE_PREFIX, SchedulingService
from scheduler.types import Channel, DateOverride, Hours, TimeRange, WeeklyWindow

log = logging.getLogger(__name__)

CODE_LENGTH = 6
# How far ahead the start screen looks for the next staffed time.
LOOKAHEAD_DAYS = 14


# -- errors ------------------------------------------------------------------------------------


class KioskError(Exception):
    """Base of the kiosk screen's errors; ``code`` is stable."""

    code = "kiosk-error"


class KioskUnavailable(KioskError):
    """The link names no kiosk, or a kiosk that an administrator switched off."""

    code = "kiosk-unavailable"


class CodeProblem(StrEnum):
    """Why a booking code typed at the kiosk cannot start a call now."""

    MALFORMED = "malformed"  # not MDG- and six characters of the code alphabet
    UNKNOWN = "unknown"  # no such booking for this kiosk or its branch
    CANCELLED = "cancelled"
    OTHER_DAY = "other-day"
    TOO_EARLY = "too-early"
    PASSED = "passed"


class KioskCodeRefused(KioskError):
    code = "kiosk-code-refused"

    def __init__(self, problem: CodeProblem, booking: Booking | None = None) -> None:
        super().__init__(problem.value)
        self.problem = problem
        # Only ever a booking of this kiosk's branch: safe to describe on its screen.
        self.booking = booking


# -- pure rules --------------------------------------------------------------------------------

_CODE_RE = re.compile(f"[{CODE_ALPHABET}]{{{CODE_LENGTH}}}")


def normalize_code(typed: str) -> str | None:
    """``MDG-ABC234`` from what a resident typed (full-width, lower case, spaces,
    with or without the prefix); None if it cannot be a booking code."""
    text = unicodedata.normalize("NFKC", typed or "").upper()
    text = re.sub(r"[\s\-ー‐−_]", "", text)
    prefix = CODE_PREFIX.replace("-", "")
    if text.startswith(prefix):
        text = text[len(prefix) :]
    if not _CODE_RE.fullmatch(text):
        return None
    return CODE_PREFIX + text


def window_problem(
    start: datetime,
    end: datetime,
    now: datetime,
    tz: ZoneInfo,
    *,
    opens_before: timedelta,
    grace_after: timedelta,
) -> CodeProblem | None:
    """Whether ``now`` is inside a booking's join window, seen from a kiosk.

    The window is the join link's (``app.core.links.Links.join_token``); a booking
    of another local day says so rather than "too early" or "passed".
    """
    if start.astimezone(tz).date() != now.astimezone(tz).date():
        return CodeProblem.OTHER_DAY
    if now < start - opens_before:
        return CodeProblem.TOO_EARLY
    if now >= end + grace_after:
        return CodeProblem.PASSED
    return None


@dataclass(frozen=True)
class Staffed:
    """Whether staff are on duty for kiosk calls now, and when next."""

    open_now: bool
    closes_at: datetime | None  # end of the current staffed window
    next_open: datetime | None  # start of the next one (None: none in the look-ahead)
    today: tuple[TimeRange, ...]  # today's staffed windows, merged


def _merge(ranges: Sequence[TimeRange]) -> list[TimeRange]:
    merged: list[TimeRange] = []
    for r in sorted(ranges):
        if merged and r.start <= merged[-1].end:
            if r.end > merged[-1].end:
                merged[-1] = TimeRange(merged[-1].start, r.end)
        else:
            merged.append(r)
    return merged


def staffed(
    hours: Sequence[Hours],
    closed: frozenset[date],
    now: datetime,
    tz: ZoneInfo,
    *,
    days: int = LOOKAHEAD_DAYS,
) -> Staffed:
    """The union of the departments' open windows around ``now``.

    ``closed`` holds the city's closed dates of the look-ahead (holidays,
    year-end, extra closures); a department's own override still opens it.
    """
    first = now.astimezone(tz).date()
    by_day: list[list[TimeRange]] = []
    for offset in range(days + 1):
        day = first + timedelta(days=offset)
        ranges = [w for h in hours for w in open_windows(h, day, city_closed=day in closed, tz=tz)]
        by_day.append(_merge(ranges))
    current = next((r for r in by_day[0] if r.start <= now < r.end), None)
    upcoming = next((r.start for day in by_day for r in day if r.start > now), None)
    return Staffed(
        open_now=current is not None,
        closes_at=current.end if current else None,
        next_open=upcoming,
        today=tuple(by_day[0]),
    )


# -- the database side ---------------------------------------------------------------------------


class KioskService:
    """Queries of the kiosk screen; never commits (the screen only reads)."""

    def __init__(self, session: Session, tz: ZoneInfo) -> None:
        self.session = session
        self.tz = tz

    def kiosk_from_token(self, tokens: Tokens, token: str, now: datetime) -> Kiosk:
        """The active kiosk a link is for; token errors propagate (expired, tampered)."""
        claims = tokens.verify(Purpose.KIOSK, token, now=now)
        kiosk_id = claims.get("k")
        if not isinstance(kiosk_id, int):
            raise TokenInvalid("no kiosk in the link")
        kiosk = self.session.scalar(
            select(Kiosk).where(Kiosk.id == kiosk_id).options(selectinload(Kiosk.branch))
        )
        if kiosk is None or not kiosk.active:
            raise KioskUnavailable(f"kiosk {kiosk_id} is missing or switched off")
        return kiosk

    def kiosk(self, kiosk_id: int) -> Kiosk | None:
        return self.session.get(Kiosk, kiosk_id)

    def kiosk_departments(self) -> list[Department]:
        """Departments with at least one active service offered at kiosks."""
        stmt = (
            select(Department)
            .join(Service, Service.department_id == Department.id)
            .where(Service.active.is_(True), Service.channels.contains(Channel.KIOSK.value))
            .options(selectinload(Department.hours))
            .distinct()
            .order_by(Department.sort_order, Department.id)
        )
        return list(self.session.scalars(stmt))

    def staffed(self, now: datetime, *, days: int = LOOKAHEAD_DAYS) -> Staffed:
        first = now.astimezone(self.tz).date()
        last = first + timedelta(days=days)
        departments = self.kiosk_departments()
        overrides: dict[int, dict[date, list[tuple[time, time]]]] = {}
        rows = self.session.execute(
            select(
                HoursOverride.department_id, HoursOverride.day, HoursOverride.start,
                HoursOverride.end,
            ).where(
                HoursOverride.department_id.in_([d.id for d in departments]),
                HoursOverride.day.between(first, last),
            )
        )  # fmt: skip
        for dept_id, day, start, end in rows:
            if dept_id is None:
                continue
            windows = overrides.setdefault(dept_id, {}).setdefault(day, [])
            if start is not None and end is not None:
                windows.append((start, end))
        hours = [
            Hours(
                weekly=tuple(WeeklyWindow(h.weekday, h.start, h.end) for h in d.hours),
                overrides=tuple(
                    DateOverride(day, tuple(sorted(w)))
                    for day, w in sorted(overrides.get(d.id, {}).items())
                ),
            )
            for d in departments
        ]
        policy = SchedulingService(self.session, tz=self.tz).closure_policy()
        return staffed(hours, closed_dates(policy, first, last), now, self.tz, days=days)

    def booking_for_kiosk(
        self,
        kiosk: Kiosk,
        typed: str,
        now: datetime,
        *,
        opens_before: timedelta,
        grace_after: timedelta,
    ) -> Booking:
        """The booking a resident may start at ``kiosk`` now, or ``KioskCodeRefused``.

        Accepted: a confirmed kiosk booking for this kiosk or another kiosk of
        the same branch, today, inside its join window. Bookings of other
        branches and online bookings are "unknown" here, so the screen never
        tells anything about them.
        """
        code = normalize_code(typed)
        if code is None:
            raise KioskCodeRefused(CodeProblem.MALFORMED)
        booking = self.session.scalar(
            select(Booking)
            .where(Booking.code == code)
            .options(selectinload(Booking.kiosk), selectinload(Booking.service))
        )
        if (
            booking is None
            or booking.channel != Channel.KIOSK.value
            or booking.kiosk is None
            or booking.kiosk.branch_id != kiosk.branch_id
        ):
            log.info("kiosk %s: a code was refused (unknown here)", kiosk.id)
            raise KioskCodeRefused(CodeProblem.UNKNOWN)
        if booking.status == BookingStatus.CANCELLED:
            raise KioskCodeRefused(CodeProblem.CANCELLED, booking)
        problem = window_problem(
            booking.start_at,
            booking.end_at,
            now,
            self.tz,
            opens_before=opens_before,
            grace_after=grace_after,
        )
        if problem is not None:
            log.info("kiosk %s: booking %s refused (%s)", kiosk.id, booking.id, problem)
            raise KioskCodeRefused(problem, booking)
        log.info("kiosk %s: booking %s starts its call", kiosk.id, booking.id)
        return booking
