"""How long a walk-in will wait, and when staff are next expected: pure, ``now`` passed in.

The kiosk's ticket screen promises a wait. The promise must be honest:

- ``predict_wait`` plays the queue forward as the router serves it: every
  staff member who is available (free now) or in a call (free after the
  rest of that call) gets, as they become free, the first due waiting call
  in serving order they qualify for (priority, then arrival; a booked visit
  not before its time; the person idle longest first), answers after the
  measured ring-to-answer time and is busy for a handling time of that
  call's service. Handling times are drawn from the recent ones measured;
  the queue is played several times and the median wait is the answer.
  Calls of other services ahead count too, where they take staff this
  ticket needs.
  With nobody qualified available or in a call it returns ``None``: nobody
  can answer, and the kiosk says so rather than invent a number.
- ``next_expected``: when, by their working hours and leave, the next
  qualified staff member's shift starts.

Checked against the routing simulation (``bench/routing_sim.py``, figures in
``docs/benchmarks.md``).
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from scheduler.calendar import open_windows
from scheduler.routing import Call, Presence, StaffMember, waiting_order
from scheduler.types import StaffSpec, TimeRange

DEFAULT_TALK = timedelta(minutes=8)
DEFAULT_ANSWER = timedelta(seconds=10)
# Below this many recent calls of a service, its own mean is too noisy: use all services'.
MIN_SAMPLES = 3
# A call already longer than every recent one: assume this share of a mean call is left.
OVERTIME_SHARE = 0.25
# Plays of the queue with drawn handling times, and their fixed seed.
DRAWS = 41
SEED = 12


@dataclass(frozen=True, slots=True)
class Handling:
    """What recent calls measured: handling times (answer to end) by service,
    and the mean time from a ring to its answer."""

    talks: Mapping[int, Sequence[timedelta]] = field(default_factory=dict)
    answer: timedelta = DEFAULT_ANSWER
    default_talk: timedelta = DEFAULT_TALK

    def _pooled(self) -> list[timedelta]:
        return [t for times in self.talks.values() for t in times]

    def samples(self, service_id: int | None) -> list[timedelta]:
        """Recent handling times of calls of this service (all services' when
        it has too few); empty when nothing was measured yet."""
        own = self.talks.get(service_id, ()) if service_id is not None else ()
        return list(own) if len(own) >= MIN_SAMPLES else self._pooled()

    def talk(self, service_id: int | None) -> timedelta:
        """The mean handling time of a call of this service."""
        samples = self.samples(service_id)
        if not samples:
            return self.default_talk
        return timedelta(seconds=statistics.fmean(t.total_seconds() for t in samples))

    def rests(self, elapsed: timedelta) -> list[timedelta]:
        """What may be left of a call that has lasted ``elapsed``: the excess
        over ``elapsed`` of the recent calls that lasted longer (when none
        did, or nothing was measured: a share of a mean call, or its rest)."""
        longer = [t - elapsed for t in self._pooled() if t > elapsed]
        if longer:
            return longer
        mean = self.talk(None)
        return [max(mean - elapsed, mean * OVERTIME_SHARE)]


def serving(staff: Iterable[StaffMember]) -> list[StaffMember]:
    """Staff who will answer calls: available now, or in a call and free after it."""
    return [m for m in staff if m.presence in (Presence.AVAILABLE, Presence.IN_CALL)]


def predict_wait(
    target: Call,
    calls: Iterable[Call],
    staff: Iterable[StaffMember],
    in_call_since: Mapping[int, datetime],
    handling: Handling,
    now: datetime,
    *,
    draws: int = DRAWS,
) -> timedelta | None:
    """The typical wait of ``target`` until a staff member answers it, or
    ``None`` when nobody qualified for it is available or in a call.

    ``calls`` are the waiting calls (``target`` among them or not);
    ``in_call_since`` says since when each staff member in a call has been in it.

    Handling times vary, and with several people in calls the first of them
    is free much sooner than any one's mean rest: so the queue is played
    ``draws`` times with handling times drawn from the measured ones (a fixed
    seed: the same inputs give the same answer), and the median is returned.
    """
    members = {m.id: m for m in serving(staff)}
    if not any(target.qualifies(m) for m in members.values()):
        return None
    pending = waiting_order([*(c for c in calls if c.id != target.id), target])
    rests = {
        m.id: handling.rests(max(now - in_call_since.get(m.id, now), timedelta(0)))
        for m in members.values()
        if m.presence is Presence.IN_CALL
    }
    rng = random.Random(SEED)
    waits = sorted(
        _play(target, pending, members, rests, handling, now, rng) for _ in range(max(1, draws))
    )
    return waits[(len(waits) - 1) // 2]


def _play(
    target: Call,
    order: list[Call],
    members: Mapping[int, StaffMember],
    rests: Mapping[int, list[timedelta]],
    handling: Handling,
    now: datetime,
    rng: random.Random,
) -> timedelta:
    """One play of the queue, as the router serves it: each due call in
    serving order goes to the qualified free person idle longest."""
    free: dict[int, datetime] = {}
    for sid in members:
        free[sid] = now + rng.choice(rests[sid]) if sid in rests else now
    idle = {sid: free[sid] if sid in rests else m.idle_since for sid, m in members.items()}
    pending = list(order)
    at = now
    while True:
        for call in [c for c in pending if c.queued_at <= at]:
            free_now = sorted(
                (m for m in members.values() if free[m.id] <= at and call.qualifies(m)),
                key=lambda m: (idle[m.id], m.id),
            )
            if not free_now:
                continue
            taker = free_now[0].id
            answered = at + handling.answer
            if call.id == target.id:
                return max(answered - now, timedelta(0))
            pending.remove(call)
            samples = handling.samples(call.service_id)
            talk = rng.choice(samples) if samples else handling.default_talk
            free[taker] = idle[taker] = answered + talk
        later = [t for t in free.values() if t > at] + [
            c.queued_at for c in pending if c.queued_at > at
        ]
        if not later:  # pragma: no cover - someone qualified always reaches the target
            raise AssertionError("the target call is never served")
        at = min(later)


def _minus(window: TimeRange, leave: Sequence[TimeRange]) -> list[TimeRange]:
    pieces = [window]
    for off in sorted(leave):
        rest: list[TimeRange] = []
        for piece in pieces:
            if not piece.overlaps(off):
                rest.append(piece)
                continue
            if piece.start < off.start:
                rest.append(TimeRange(piece.start, off.start))
            if off.end < piece.end:
                rest.append(TimeRange(off.end, piece.end))
        pieces = rest
    return pieces


def next_expected(
    staff: Iterable[StaffSpec],
    closed: frozenset[date],
    now: datetime,
    tz: ZoneInfo,
    *,
    days: int = 7,
) -> datetime | None:
    """When the next working time (hours minus leave) of any of ``staff``
    starts after ``now``, looking ``days`` ahead; ``None`` if nobody's does.

    Someone whose working time covers ``now`` but who is not at their desk
    is not "expected" at any time the app knows, so only later starts count.
    """
    first = now.astimezone(tz).date()
    best: datetime | None = None
    for member in staff:
        for offset in range(days + 1):
            day = first + timedelta(days=offset)
            if best is not None and day > best.astimezone(tz).date():
                break
            for window in open_windows(member.hours, day, city_closed=day in closed, tz=tz):
                for piece in _minus(window, member.leave):
                    if piece.start > now and (best is None or piece.start < best):
                        best = piece.start
    return best
