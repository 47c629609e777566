"""A simulated day at the remote counter through the real routing core.

Mid-sized city: 30 staff, 10 kiosks, 400 walk-ins and 300 booked kiosk
visits between 08:30 and 17:15, simulated time (no sleeping). Every routing
decision is ``scheduler.routing.plan(...)``, the same function the app calls;
only the people are simulated:

- **Walk-in arrivals** follow a city office's daily pattern: a morning peak
  (normal around 10:00, σ 45 min, 40 %), a post-lunch peak (around 13:45,
  σ 40 min, 35 %) and a flat background over the day (25 %), truncated to
  opening hours. Each walk-in picks one of the six kiosk services with
  uneven popularity (moving in/out and certificates most).
- **Booked visits** are on a 15-minute grid per kiosk, spread over the day
  (evenly random slots, busier before noon); the resident arrives 0–10 min
  early, and the call is due at the booked time, ringing the booked staff
  member first.
- **Handling times** are lognormal: walk-ins median 8 min (σ=0.5), booked
  visits median 12 min (σ=0.4).
- **Staff**: each handles 1–3 of the six services (every service has at least
  six qualified people, across departments); half take lunch 11:45–12:45, the
  other half 12:45–13:45. An offer is answered after 3–12 s: 90 % accept,
  5 % decline, 5 % do not answer (the offer rings out after the offer timeout,
  20 s, and the staff member is set away; they come back 2 min later). Who
  refused a call is asked again, when nobody else is free, after 60 s.

Both policies run on the same arrivals and the same answer draws (seeded per
call and staff member), so the comparison is paired:
``longest-idle`` (the app's fair routing) against ``first-free`` (the first
free qualified staff member in a fixed order).

    .venv/bin/python bench/routing_sim.py --seed 6006

``--estimate`` checks the wait the kiosk promises: at every walk-in's
arrival, right after the routing round the ticket triggers (as the app's
``Tickets.take`` then ``view``), the simulation asks ``scheduler.wait.predict_wait``
with what the app would know then (the queue, presence, since when each
person is in a call, the last 20 handling times per service and the last 20
ring-to-answer times) and compares it with the wait the simulation then
gives that walk-in (arrival to an accepted offer). The formula before issue
12 (median talk × place in line ÷ qualified staff on duty) is scored on the
same arrivals.

    .venv/bin/python bench/routing_sim.py --seed 6006 --estimate --days 5
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import random
import statistics
from collections import defaultdict, deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from scheduler.routing import (
    Call,
    Fairness,
    Offer,
    Presence,
    Priority,
    RoutingPolicy,
    StaffMember,
    plan,
    waiting_order,
)
from scheduler.wait import Handling, predict_wait

DAY = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)  # 08:30 JST, the office opens
CLOSE = DAY + timedelta(hours=8, minutes=45)  # 17:15 JST
SERVICES = 6
POPULARITY = (0.30, 0.22, 0.16, 0.14, 0.10, 0.08)
OFFER_TIMEOUT = timedelta(seconds=20)
BACK_AFTER_NO_ANSWER = timedelta(minutes=2)


def minute(m: float) -> datetime:
    return DAY + timedelta(minutes=m)


@dataclass
class Visit:
    id: int
    service: int
    arrives: datetime
    due: datetime  # queued_at for routing: arrival, or the booked start
    talk: timedelta
    booked: bool
    preferred: int | None = None
    accepted_at: datetime | None = None
    staff: int | None = None


@dataclass
class World:
    staff: list[tuple[int, frozenset[int]]]
    lunches: dict[int, tuple[datetime, datetime]]
    visits: list[Visit]
    seed: int


def daily_arrival(rng: random.Random) -> datetime:
    span = (CLOSE - DAY).total_seconds() / 60
    while True:
        r = rng.random()
        if r < 0.40:
            m = rng.gauss(90, 45)  # around 10:00
        elif r < 0.75:
            m = rng.gauss(315, 40)  # around 13:45
        else:
            m = rng.uniform(0, span)
        # Nobody starts a new matter in the last ten minutes.
        if 0 <= m <= span - 10:
            return minute(m)


def build_world(seed: int, staff_n: int, kiosks: int, walk_ins: int, bookings: int) -> World:
    rng = random.Random(seed)
    staff = []
    for sid in range(1, staff_n + 1):
        # Round-robin primary skill, so every service has people; then extras.
        skills = {(sid - 1) % SERVICES}
        skills |= set(rng.sample(range(SERVICES), rng.randint(0, 2)))
        staff.append((sid, frozenset(skills)))
    lunches = {
        sid: (minute(195), minute(255)) if sid % 2 else (minute(255), minute(315))
        for sid, _ in staff
    }
    visits: list[Visit] = []
    ids = itertools.count(1)
    for _ in range(walk_ins):
        at = daily_arrival(rng)
        service = rng.choices(range(SERVICES), POPULARITY)[0]
        talk = timedelta(minutes=rng.lognormvariate(mu=2.079, sigma=0.5))  # median 8
        visits.append(Visit(next(ids), service, at, at, talk, booked=False))
    slots = [(k, s) for k in range(kiosks) for s in range(0, 525 - 15, 15)]
    # Busier before noon: weight morning slots double.
    weights = [2.0 if s < 210 else 1.0 for _, s in slots]
    chosen: set[tuple[int, int]] = set()
    while len(chosen) < bookings:
        chosen.add(rng.choices(slots, weights)[0])
    for _, s in sorted(chosen, key=lambda ks: ks[1]):
        start = minute(s)
        service = rng.choices(range(SERVICES), POPULARITY)[0]
        qualified = [sid for sid, skills in staff if service in skills]
        talk = timedelta(minutes=rng.lognormvariate(mu=2.485, sigma=0.4))  # median 12
        early = timedelta(minutes=rng.uniform(0, 10))
        visits.append(
            Visit(
                next(ids),
                service,
                start - early,
                start,
                talk,
                booked=True,
                preferred=rng.choice(qualified),
            )
        )
    return World(staff, lunches, visits, seed)


def answer_of(seed: int, call: int, staff: int, attempt: int) -> tuple[str, timedelta]:
    """The same draw for both policies: how staff answer this call's offer."""
    rng = random.Random(f"{seed}/{call}/{staff}/{attempt}")
    delay = timedelta(seconds=rng.uniform(3, 12))
    r = rng.random()
    if r < 0.90:
        return "accept", delay
    if r < 0.95:
        return "decline", delay
    return "none", OFFER_TIMEOUT


@dataclass
class Result:
    policy: Fairness
    waits_walk_in: list[float] = field(default_factory=list)
    waits_booked: list[float] = field(default_factory=list)
    busy: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    duty_minutes: float = 0.0
    offers: int = 0
    unserved: int = 0
    rounds: int = 0
    # Walk-in id → (predicted wait, the old formula's, in minutes); None: nobody qualified.
    predicted: dict[int, tuple[float | None, float]] = field(default_factory=dict)
    actual: dict[int, float] = field(default_factory=dict)


RECENT = 20  # MADOGUCHI_COUNTER_RECENT_CALLS


def old_estimate(
    call: Call,
    waiting: list[Call],
    staff: list[StaffMember],
    recent: deque[timedelta],
    now: datetime,
) -> float:
    """The estimate before issue 12, in minutes: median of the recent talk
    times × place in line among the service's calls ÷ qualified staff on duty."""
    median = statistics.median(t.total_seconds() for t in recent) / 60 if recent else 8.0
    ahead = [
        c for c in waiting_order(waiting) if c.service_id == call.service_id and c.queued_at <= now
    ]
    position = next(i for i, c in enumerate(ahead, 1) if c.id == call.id)
    on_duty = sum(
        1
        for m in staff
        if call.service_id in m.skills and m.presence in (Presence.AVAILABLE, Presence.IN_CALL)
    )
    return median * position / max(1, on_duty)


def simulate(world: World, fairness: Fairness, *, track: bool = False) -> Result:
    policy = RoutingPolicy(
        offer_timeout=OFFER_TIMEOUT, escalate_after=timedelta(minutes=10), fairness=fairness
    )
    result = Result(fairness)
    members = {
        sid: StaffMember(sid, skills, Presence.AVAILABLE, DAY) for sid, skills in world.staff
    }
    visits = {v.id: v for v in world.visits}
    waiting: dict[int, Call] = {}
    ringing: dict[int, Offer] = {}  # by call id
    attempts: dict[int, int] = defaultdict(int)
    seq = itertools.count()
    events: list[tuple[datetime, int, str, tuple[int, ...]]] = []
    # What the app measures: recent handling times by service, recent answer
    # times, and since when each person is in their current call.
    talks: dict[int, deque[timedelta]] = defaultdict(lambda: deque(maxlen=RECENT))
    answers: deque[timedelta] = deque(maxlen=RECENT)
    recent: deque[timedelta] = deque(maxlen=RECENT)  # all services, for the old formula
    in_call_since: dict[int, datetime] = {}

    def predict(call_id: int, now: datetime) -> None:
        handling = Handling(
            talks={s: tuple(t) for s, t in talks.items()},
            answer=(
                timedelta(seconds=statistics.fmean(a.total_seconds() for a in answers))
                if answers
                else Handling().answer
            ),
        )
        call = waiting[call_id]
        new = predict_wait(
            call, list(waiting.values()), list(members.values()), in_call_since, handling, now
        )
        result.predicted[call_id] = (
            new.total_seconds() / 60 if new is not None else None,
            old_estimate(call, list(waiting.values()), list(members.values()), recent, now),
        )

    def at(when: datetime, kind: str, *args: int) -> None:
        heapq.heappush(events, (when, next(seq), kind, args))

    for v in world.visits:
        at(v.arrives, "arrive", v.id)
    for sid, (start, end) in world.lunches.items():
        at(start, "lunch", sid)
        at(end, "back", sid)

    def set_presence(sid: int, presence: Presence, now: datetime) -> None:
        m = members[sid]
        became_free = presence is Presence.AVAILABLE and m.presence is not presence
        idle = now if became_free else m.idle_since
        members[sid] = replace(m, presence=presence, idle_since=idle)

    def route(now: datetime) -> None:
        result.rounds += 1
        decision = plan(
            list(waiting.values()), list(members.values()), list(ringing.values()), now, policy
        )
        for lapsed in decision.lapsed:
            ringing.pop(lapsed.call_id, None)
            if lapsed.staff_id in decision.set_away and lapsed.call_id in waiting:
                call = waiting[lapsed.call_id]
                refused = (*call.refused_by, lapsed.staff_id)
                waiting[call.id] = replace(call, refused_by=refused, refused_at=now)
                at(now + policy.reoffer_after, "tick")
        for sid in decision.set_away:
            set_presence(sid, Presence.AWAY, now)
            at(now + BACK_AFTER_NO_ANSWER, "back", sid)
        for offer in decision.offers:
            ringing[offer.call_id] = offer
            result.offers += 1
            attempts[offer.call_id] += 1
            attempt = attempts[offer.call_id]
            how, delay = answer_of(world.seed, offer.call_id, offer.staff_id, attempt)
            if how == "none":
                at(offer.expires_at, "tick")
            else:
                at(now + delay, how, offer.call_id, offer.staff_id)

    while events:
        now, _, kind, args = heapq.heappop(events)
        if now > CLOSE + timedelta(hours=2):
            break
        if kind == "arrive":
            v = visits[args[0]]
            priority = Priority.BOOKED if v.booked else Priority.WALK_IN
            waiting[v.id] = Call(v.id, v.service, priority, v.due, preferred_staff=v.preferred)
            if v.due > now:
                at(v.due, "tick")
        elif kind in ("accept", "decline"):
            call_id, sid = args
            offer = ringing.get(call_id)
            if offer is None or offer.staff_id != sid or now >= offer.expires_at:
                continue  # it stopped ringing meanwhile
            del ringing[call_id]
            if kind == "accept":
                answers.append(now - offer.offered_at)
            if kind == "decline":
                call = waiting[call_id]
                refused = (*call.refused_by, sid)
                waiting[call_id] = replace(call, refused_by=refused, refused_at=now)
                at(now + policy.reoffer_after, "tick")
            else:
                del waiting[call_id]
                v = visits[call_id]
                v.accepted_at, v.staff = now, sid
                set_presence(sid, Presence.IN_CALL, now)
                in_call_since[sid] = now
                at(now + v.talk, "end", call_id, sid)
        elif kind == "end":
            call_id, sid = args
            result.busy[sid] += visits[call_id].talk.total_seconds() / 60
            talks[visits[call_id].service].append(visits[call_id].talk)
            recent.append(visits[call_id].talk)
            in_call_since.pop(sid, None)
            if members[sid].presence is Presence.IN_CALL:
                set_presence(sid, Presence.AVAILABLE, now)
        elif kind == "lunch":
            sid = args[0]
            if members[sid].presence is Presence.IN_CALL:
                at(now + timedelta(minutes=1), "lunch", sid)  # after this call
                continue
            set_presence(sid, Presence.AWAY, now)
        elif kind == "back":
            sid = args[0]
            lunch = world.lunches[sid]
            if members[sid].presence is Presence.AWAY and not lunch[0] <= now < lunch[1]:
                set_presence(sid, Presence.AVAILABLE, now)
        route(now)
        if kind == "arrive" and track and not visits[args[0]].booked and args[0] in waiting:
            predict(args[0], now)

    for v in world.visits:
        if v.accepted_at is None:
            result.unserved += 1
            continue
        wait = (v.accepted_at - max(v.arrives, v.due)).total_seconds() / 60
        (result.waits_booked if v.booked else result.waits_walk_in).append(wait)
        if not v.booked:
            result.actual[v.id] = wait
    lunch_minutes = 60.0
    result.duty_minutes = len(world.staff) * ((CLOSE - DAY).total_seconds() / 60 - lunch_minutes)
    return result


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(r: Result, staff_ids: list[int]) -> list[str]:
    loads = [r.busy.get(sid, 0.0) for sid in staff_ids]
    total = sum(loads)
    both = r.waits_walk_in + r.waits_booked
    return [
        f"{r.policy.value:>12}",
        f"{statistics.median(r.waits_walk_in):6.2f}",
        f"{pct(r.waits_walk_in, 0.95):6.2f}",
        f"{statistics.median(r.waits_booked):6.2f}",
        f"{pct(r.waits_booked, 0.95):6.2f}",
        f"{pct(both, 0.95):6.2f}",
        f"{100 * total / r.duty_minutes:5.1f}%",
        f"{min(loads):5.0f}–{max(loads):3.0f}",
        f"{statistics.pstdev(loads):5.1f}",
        f"{r.offers:5d}",
        f"{r.unserved:3d}",
    ]


def estimate_report(args: argparse.Namespace) -> None:
    new_err: list[float] = []
    old_err: list[float] = []
    old_all: list[float] = []
    nobody = 0
    nobody_waits: list[float] = []
    for day in range(args.days):
        world = build_world(args.seed + day, args.staff, args.kiosks, args.walk_ins, args.bookings)
        r = simulate(world, Fairness.LONGEST_IDLE, track=True)
        for vid, (new, old) in r.predicted.items():
            actual = r.actual.get(vid)
            if actual is None:
                continue
            old_all.append(old - actual)
            if new is None:
                nobody += 1
                nobody_waits.append(actual)
                continue
            new_err.append(new - actual)
            old_err.append(old - actual)

    def row(name: str, errors: list[float]) -> str:
        absolute = [abs(e) for e in errors]
        return (
            f"{name:>28} | {len(errors):5d} | {statistics.fmean(absolute):6.2f} | "
            f"{pct(absolute, 0.90):6.2f} | {statistics.fmean(errors):+6.2f}"
        )

    print(
        f"seeds {args.seed}–{args.seed + args.days - 1}: {args.staff} staff, "
        f"{args.walk_ins} walk-ins and {args.bookings} bookings a day; "
        "predicted − simulated wait of each walk-in at its arrival, minutes"
    )
    print(f"{'formula':>28} | {'n':>5} | {'MAE':>6} | {'p90':>6} | {'bias':>6}")
    print(row("predict_wait (issue 12)", new_err))
    print(row("old, same walk-ins", old_err))
    print(row("old, every walk-in", old_all))
    if nobody_waits:
        print(
            f"nobody qualified available or in a call at arrival: {nobody} walk-ins "
            f"(the kiosk promises no time); they then waited median "
            f"{statistics.median(nobody_waits):.1f} min, p90 {pct(nobody_waits, 0.90):.1f}"
        )
    else:
        print("nobody qualified available or in a call at arrival: 0 walk-ins")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=6006)
    parser.add_argument("--staff", type=int, default=30)
    parser.add_argument("--kiosks", type=int, default=10)
    parser.add_argument("--walk-ins", type=int, default=400)
    parser.add_argument("--bookings", type=int, default=300)
    parser.add_argument(
        "--days", type=int, default=1, help="also average over this many seeds (seed, seed+1, …)"
    )
    parser.add_argument(
        "--estimate",
        action="store_true",
        help="score the kiosk's promised wait against the simulated one instead",
    )
    args = parser.parse_args()
    if args.estimate:
        estimate_report(args)
        return
    world = build_world(args.seed, args.staff, args.kiosks, args.walk_ins, args.bookings)
    staff_ids = [sid for sid, _ in world.staff]
    print(
        f"seed {args.seed}: {args.staff} staff, {args.kiosks} kiosks, "
        f"{args.walk_ins} walk-ins, {args.bookings} bookings, 08:30–17:15, minutes"
    )
    header = [
        "policy",
        "walk-in p50",
        "p95",
        "booked p50",
        "p95",
        "all p95",
        "util",
        "talk min/staff",
        "σ load",
        "offers",
        "unserved",
    ]
    print(" | ".join(header))
    for fairness in (Fairness.LONGEST_IDLE, Fairness.FIRST_FREE):
        print(" | ".join(report(simulate(world, fairness), staff_ids)))
    if args.days > 1:
        print(f"mean over {args.days} days (seeds {args.seed}–{args.seed + args.days - 1}):")
        print("policy | walk-in p50 | walk-in p95 | all p95 | σ load | min load")
        for fairness in (Fairness.LONGEST_IDLE, Fairness.FIRST_FREE):
            rows = []
            for day in range(args.days):
                w = build_world(
                    args.seed + day, args.staff, args.kiosks, args.walk_ins, args.bookings
                )
                r = simulate(w, fairness)
                loads = [r.busy.get(sid, 0.0) for sid, _ in w.staff]
                rows.append(
                    (
                        statistics.median(r.waits_walk_in),
                        pct(r.waits_walk_in, 0.95),
                        pct(r.waits_walk_in + r.waits_booked, 0.95),
                        statistics.pstdev(loads),
                        min(loads),
                    )
                )
            means = [statistics.fmean(col) for col in zip(*rows, strict=True)]
            print(f"{fairness.value:>12} | " + " | ".join(f"{m:6.2f}" for m in means))


if __name__ == "__main__":
    main()
