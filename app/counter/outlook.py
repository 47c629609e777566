"""What a waiting walk-in is told: the expected wait, or that nobody qualified
can answer now and when the next qualified staff member is expected.

Loads what the pure ``scheduler.wait`` needs: the waiting tickets, staff
presence (and since when each is in a call), handling times measured from
recent calls, the mean time from a ring to its answer, and the qualified
staff's working hours, date overrides and leave. Reads only.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.counter.models import (
    OfferResult,
    QueueTicket,
    RingKind,
    RingOffer,
    StaffPresence,
    TicketStatus,
)
from app.counter.presence import PresenceBook
from app.counter.rounds import waiting_tickets
from app.counter.settings import CounterSettings
from scheduler.calendar import closed_dates
from scheduler.models import HoursOverride, Staff, StaffHours, StaffLeave, staff_skills
from scheduler.routing import Call, Presence, Priority
from scheduler.service import SchedulingService
from scheduler.types import DateOverride, Hours, StaffSpec, TimeRange, WeeklyWindow
from scheduler.wait import DEFAULT_ANSWER, Handling, next_expected, predict_wait

# How far ahead "the next qualified staff member is expected" looks.
LOOKAHEAD_DAYS = 7


@dataclass(frozen=True, slots=True)
class Outlook:
    # None: nobody qualified is available or in a call, so no wait can be promised.
    estimate: timedelta | None
    # Then: when the next qualified staff member's working time starts (None: not
    # within the look-ahead, or nobody has hours).
    expected_at: datetime | None = None


class Outlooks:
    def __init__(self, session: Session, tz: ZoneInfo, settings: CounterSettings) -> None:
        self.session = session
        self.tz = tz
        self.settings = settings
        self.presence = PresenceBook(session, settings)

    def handling(self) -> Handling:
        """Mean handling times by service and the ring-to-answer time, from recent calls."""
        n = self.settings.recent_calls
        rows = self.session.execute(
            select(QueueTicket.service_id, QueueTicket.accepted_at, QueueTicket.ended_at)
            .where(
                QueueTicket.status == TicketStatus.DONE,
                QueueTicket.accepted_at.is_not(None),
                QueueTicket.ended_at.is_not(None),
            )
            .order_by(QueueTicket.ended_at.desc())
            .limit(n * 5)
        )
        talks: dict[int, list[timedelta]] = defaultdict(list)
        for service_id, start, end in rows:
            if start is not None and end is not None and len(talks[service_id]) < n:
                talks[service_id].append(end - start)
        answers = [
            (answered - offered).total_seconds()
            for offered, answered in self.session.execute(
                select(RingOffer.offered_at, RingOffer.answered_at)
                .where(
                    RingOffer.kind == RingKind.TICKET,
                    RingOffer.result == OfferResult.ACCEPTED,
                    RingOffer.answered_at.is_not(None),
                )
                .order_by(RingOffer.answered_at.desc())
                .limit(n)
            )
            if answered is not None
        ]
        return Handling(
            talks=dict(talks),
            answer=timedelta(seconds=statistics.fmean(answers)) if answers else DEFAULT_ANSWER,
            default_talk=timedelta(minutes=self.settings.default_talk_minutes),
        )

    def _in_call_since(self) -> dict[int, datetime]:
        rows = self.session.execute(
            select(StaffPresence.staff_id, StaffPresence.updated_at).where(
                StaffPresence.status == Presence.IN_CALL
            )
        )
        return {staff_id: since for staff_id, since in rows}

    def of(self, ticket: QueueTicket, now: datetime) -> Outlook:
        calls = [
            Call(t.id, t.service_id, Priority(t.priority), t.queued_at)
            for t in waiting_tickets(self.session)
        ]
        target = next((c for c in calls if c.id == ticket.id), None)
        if target is None:
            target = Call(ticket.id, ticket.service_id, Priority(ticket.priority), ticket.queued_at)
        estimate = predict_wait(
            target, calls, self.presence.members(), self._in_call_since(), self.handling(), now
        )
        if estimate is not None:
            return Outlook(estimate)
        return Outlook(None, self.next_expected(ticket.service_id, now))

    def next_expected(self, service_id: int, now: datetime) -> datetime | None:
        """When the next working time of a staff member qualified for the service starts."""
        first = now.astimezone(self.tz).date()
        last = first + timedelta(days=LOOKAHEAD_DAYS)
        ids = list(
            self.session.scalars(
                select(Staff.id)
                .join(staff_skills, staff_skills.c.staff_id == Staff.id)
                .where(staff_skills.c.service_id == service_id, Staff.active.is_(True))
            )
        )
        if not ids:
            return None
        weekly: dict[int, list[WeeklyWindow]] = defaultdict(list)
        for sid, weekday, start, end in self.session.execute(
            select(StaffHours.staff_id, StaffHours.weekday, StaffHours.start, StaffHours.end)
            .where(StaffHours.staff_id.in_(ids))
        ):  # fmt: skip
            weekly[sid].append(WeeklyWindow(weekday, start, end))
        overrides: dict[int, dict[date, list[tuple[time, time]]]] = defaultdict(dict)
        override = HoursOverride
        for o_staff, day, o_start, o_end in self.session.execute(
            select(override.staff_id, override.day, override.start, override.end)
            .where(override.staff_id.in_(ids), override.day.between(first, last))
        ):  # fmt: skip
            if o_staff is None:
                continue
            windows = overrides[o_staff].setdefault(day, [])
            if o_start is not None and o_end is not None:
                windows.append((o_start, o_end))
        horizon = datetime.combine(last + timedelta(days=1), time(), self.tz).astimezone(UTC)
        leave: dict[int, list[TimeRange]] = defaultdict(list)
        for l_staff, l_start, l_end in self.session.execute(
            select(StaffLeave.staff_id, StaffLeave.start_at, StaffLeave.end_at).where(
                StaffLeave.staff_id.in_(ids), StaffLeave.end_at > now, StaffLeave.start_at < horizon
            )
        ):
            leave[l_staff].append(TimeRange(l_start, l_end))
        staff = [
            StaffSpec(
                sid,
                frozenset({service_id}),
                Hours(
                    tuple(weekly[sid]),
                    tuple(
                        DateOverride(day, tuple(sorted(w)))
                        for day, w in sorted(overrides[sid].items())
                    ),
                ),
                tuple(leave[sid]),
            )
            for sid in ids
        ]
        policy = SchedulingService(self.session, tz=self.tz).closure_policy()
        expected = next_expected(
            staff, closed_dates(policy, first, last), now, self.tz, days=LOOKAHEAD_DAYS
        )
        return expected.astimezone(UTC) if expected is not None else None
