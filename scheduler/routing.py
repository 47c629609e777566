"""Routing calls to staff: a pure core, no I/O, ``now`` passed in.

The remote counter's queue holds calls (walk-ins and booked kiosk visits).
``plan`` takes a snapshot of the queue, the staff with their presence and the
offers still ringing, and says what to do at ``now``:

- which offers lapse (not answered within ``RoutingPolicy.offer_timeout``);
- which call to offer to which staff member next;
- which waiting calls are escalated (waited longer than ``escalate_after``).

Rules, each checked by the property tests:

- a call is offered only to staff whose skills include its service, from any
  department (skills are services, not departments); a hand-over request
  (``Call.department_id``) only to staff of that department (and qualified
  for its service, when it names one); a request for one named colleague
  (``Call.target_staff``) only to that person;
- a call rings at one staff member at a time, and a staff member is rung for
  one call at a time;
- a staff member who declined a call or let it ring out is not offered that
  call again while anyone else qualified is free; once nobody else is, they
  are asked again, but not before ``reoffer_after`` since the last refusal;
- calls are served in order of priority, then arrival (FIFO); a booked call
  waits in the queue from its booked time and goes before walk-ins then;
- ``fair`` routing offers to the qualified free staff member idle longest;
  ``first-free`` (kept for comparison in ``bench/routing_sim.py``) offers to
  the first free qualified staff member in a fixed order.

The I/O layer (``app.counter.rounds``) loads the snapshot in one writer transaction,
applies the plan and commits, so several app processes agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum


class Presence(StrEnum):
    AVAILABLE = "available"
    IN_CALL = "in-call"
    AWAY = "away"
    OFFLINE = "offline"


class Priority(IntEnum):
    """Lower goes first. A booked kiosk visit goes before walk-ins at its time;
    a hand-over goes first of all: that resident is already in a call."""

    HANDOVER = -1
    BOOKED = 0
    WALK_IN = 1


class Fairness(StrEnum):
    LONGEST_IDLE = "longest-idle"
    FIRST_FREE = "first-free"


class RoutingError(Exception):
    """Base of the routing core's errors."""


@dataclass(frozen=True, slots=True)
class StaffMember:
    id: int
    skills: frozenset[int]  # service ids
    presence: Presence
    # When the member last became free (end of the last call, or coming back).
    idle_since: datetime
    departments: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Call:
    id: int
    # None: any service (a hand-over to a department without a named service).
    service_id: int | None
    priority: Priority
    # When the call entered the queue; for a booked call, its booked start.
    queued_at: datetime
    # Staff who declined it or let it lapse, in order.
    refused_by: tuple[int, ...] = ()
    # A booked call rings its booked staff member first when they are free.
    preferred_staff: int | None = None
    # When the latest refusal was: those who refused are asked again only
    # ``RoutingPolicy.reoffer_after`` later (a decline must not ring again at once).
    refused_at: datetime | None = None
    # A hand-over request: only staff of this department are asked.
    department_id: int | None = None
    # A request for one named colleague: only they are asked.
    target_staff: int | None = None

    def qualifies(self, member: StaffMember) -> bool:
        if self.target_staff is not None:
            return member.id == self.target_staff
        if self.department_id is not None and self.department_id not in member.departments:
            return False
        if self.service_id is None:
            # Nobody is qualified for "anything, anywhere".
            return self.department_id is not None
        return self.service_id in member.skills

    def order_key(self) -> tuple[int, datetime, int]:
        return (int(self.priority), self.queued_at, self.id)


@dataclass(frozen=True, slots=True)
class Offer:
    call_id: int
    staff_id: int
    offered_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    offer_timeout: timedelta = timedelta(seconds=20)
    escalate_after: timedelta = timedelta(minutes=10)
    fairness: Fairness = Fairness.LONGEST_IDLE
    # Ask someone who refused a call again (when nobody else is free) only this
    # long after the latest refusal.
    reoffer_after: timedelta = timedelta(seconds=60)

    def __post_init__(self) -> None:
        if self.offer_timeout <= timedelta(0):
            raise RoutingError("offer_timeout must be positive")
        if self.escalate_after <= timedelta(0):
            raise RoutingError("escalate_after must be positive")


@dataclass(frozen=True, slots=True)
class Plan:
    # Offers that stop ringing: unanswered in time, the call gone, or the
    # staff member no longer available.
    lapsed: tuple[Offer, ...] = ()
    offers: tuple[Offer, ...] = ()
    escalated: frozenset[int] = field(default_factory=frozenset)
    # Staff who let an offer ring out: set away, so the next call does not
    # ring at an empty desk (they set themselves available again).
    set_away: frozenset[int] = field(default_factory=frozenset)


def waiting_order(calls: Iterable[Call]) -> list[Call]:
    """Calls in the order they are served: priority, then arrival, then id."""
    return sorted(calls, key=Call.order_key)


def _candidates(
    call: Call,
    staff: Sequence[StaffMember],
    busy: set[int],
    policy: RoutingPolicy,
    now: datetime,
) -> list[StaffMember]:
    free = [
        s
        for s in staff
        if s.presence is Presence.AVAILABLE and s.id not in busy and call.qualifies(s)
    ]
    if policy.fairness is Fairness.LONGEST_IDLE:
        free.sort(key=lambda s: (s.idle_since, s.id))
    else:
        free.sort(key=lambda s: s.id)
    fresh = [s for s in free if s.id not in call.refused_by]
    if fresh:
        if call.preferred_staff is not None:
            fresh.sort(key=lambda s: s.id != call.preferred_staff)
        return fresh
    # Everyone free has refused: after a pause, ask again, the one who refused
    # longest ago first.
    if call.refused_at is not None and now < call.refused_at + policy.reoffer_after:
        return []
    order = {sid: i for i, sid in enumerate(call.refused_by)}
    return sorted(free, key=lambda s: order.get(s.id, -1))


def plan(
    calls: Sequence[Call],
    staff: Sequence[StaffMember],
    offers: Sequence[Offer],
    now: datetime,
    policy: RoutingPolicy,
) -> Plan:
    """What to do at ``now``: lapse overdue offers, make new ones, flag long waits.

    ``calls`` are the calls still waiting for someone (an accepted call is no
    longer waiting); ``offers`` the offers still ringing. Offers to staff who
    are no longer available lapse too.
    """
    by_id = {s.id: s for s in staff}
    waiting = {c.id: c for c in calls}
    lapsed: list[Offer] = []
    ringing: list[Offer] = []
    away: set[int] = set()
    for offer in offers:
        member = by_id.get(offer.staff_id)
        if (
            offer.call_id not in waiting
            or member is None
            or member.presence is not Presence.AVAILABLE
        ):
            lapsed.append(offer)
        elif now >= offer.expires_at:
            lapsed.append(offer)
            away.add(offer.staff_id)
        else:
            ringing.append(offer)
    # Staff just set away are not offered anything in this round either.
    busy = {o.staff_id for o in ringing} | away
    offered_calls = {o.call_id for o in ringing}
    new: list[Offer] = []
    for call in waiting_order(waiting.values()):
        if call.queued_at > now or call.id in offered_calls:
            continue
        rang_out = tuple(o.staff_id for o in lapsed if o.call_id == call.id and o.staff_id in away)
        if rang_out:
            call = replace(call, refused_by=call.refused_by + rang_out, refused_at=now)
        candidates = _candidates(call, staff, busy, policy, now)
        if not candidates:
            # FIFO: a later call for the same skill must not jump this one, but a
            # later call that other (free) staff can serve may go ahead.
            continue
        chosen = candidates[0]
        busy.add(chosen.id)
        new.append(Offer(call.id, chosen.id, now, now + policy.offer_timeout))
    escalated = frozenset(
        c.id
        for c in waiting.values()
        if c.queued_at <= now and now - c.queued_at >= policy.escalate_after
    )
    return Plan(tuple(lapsed), tuple(new), escalated, frozenset(away))


# -- presence: a console that stopped polling ------------------------------------------------


def timed_out(last_seen: datetime | None, now: datetime, timeout: timedelta) -> bool:
    """Whether a staff member whose console (or call page) last polled at
    ``last_seen`` counts as offline at ``now``: nothing rings at a closed
    browser. Never seen (a row from before the setting) is not timed out."""
    return last_seen is not None and now - last_seen > timeout
