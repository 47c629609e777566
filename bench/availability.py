"""Availability benchmark: one department, 50 staff, 20 services, 10,000 bookings, 30 days.

Run: .venv/bin/python bench/availability.py [--rounds N] [--interpreters]

``--interpreters`` also times every query asking for a Portuguese interpreter
(6 interpreters, 1,000 interpreter bookings), interleaved with the plain
queries in the same run, and prints the ratio.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import random
import statistics
import sys
import time as clock
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scheduler.slots import SlotQuery, compute_slots
from scheduler.types import (
    Channel,
    ClosurePolicy,
    DateOverride,
    ExistingBooking,
    Hours,
    InterpreterSpec,
    ServiceSpec,
    StaffSpec,
    TimeRange,
    WeeklyWindow,
)

TZ = ZoneInfo("Asia/Tokyo")
FIRST = date(2026, 12, 1)
DAYS = 30
STAFF = 50
SERVICES = 20
BOOKINGS = 10_000


def department_hours() -> Hours:
    weekly = tuple(
        WeeklyWindow(day, start, end)
        for day in range(5)
        for start, end in ((time(8, 30), time(12)), (time(13), time(17, 15)))
    )
    # One special Saturday opening, as cities do before tax deadlines.
    saturday = DateOverride(date(2026, 12, 12), ((time(9), time(12)),))
    return Hours(weekly=weekly, overrides=(saturday,))


def build(seed: int = 7) -> tuple[list[SlotQuery], int]:
    rng = random.Random(seed)
    hours = department_hours()
    services = [
        ServiceSpec(
            id=n,
            department_id=1,
            duration=timedelta(minutes=rng.choice((15, 20, 30, 45, 60))),
            buffer_before=timedelta(minutes=rng.choice((0, 5))),
            buffer_after=timedelta(minutes=rng.choice((0, 5, 10))),
            channels=frozenset(Channel),
            min_notice=timedelta(hours=2),
            horizon=timedelta(days=60),
            daily_cap=rng.choice((None, None, 40)),
            slot_step=timedelta(minutes=15),
        )
        for n in range(1, SERVICES + 1)
    ]
    staff_ids = list(range(1, STAFF + 1))
    skills = {sid: frozenset(rng.sample(range(1, SERVICES + 1), 8)) for sid in staff_ids}

    bookings: list[ExistingBooking] = []
    open_days = [FIRST + timedelta(days=n) for n in range(DAYS)]
    open_days = [d for d in open_days if d.weekday() < 5]
    while len(bookings) < BOOKINGS:
        staff_id = rng.choice(staff_ids)
        service = services[rng.choice(sorted(skills[staff_id])) - 1]
        day = rng.choice(open_days)
        minute = rng.randrange(8 * 60 + 30, 17 * 60, 15)
        start = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=TZ)
        bookings.append(
            ExistingBooking(
                staff_id=staff_id,
                service_id=service.id,
                start=start,
                end=start + service.duration,
                busy=service.busy_range(start),
            )
        )

    staff = tuple(
        StaffSpec(
            id=sid,
            skills=skills[sid],
            hours=hours,
            leave=(
                TimeRange(
                    datetime.combine(FIRST + timedelta(days=sid % DAYS), time(0), tzinfo=TZ),
                    datetime.combine(FIRST + timedelta(days=sid % DAYS + 1), time(0), tzinfo=TZ),
                ),
            ),
            busy=(
                TimeRange(
                    datetime.combine(FIRST + timedelta(days=sid % 7), time(15), tzinfo=TZ),
                    datetime.combine(FIRST + timedelta(days=sid % 7), time(16), tzinfo=TZ),
                ),
            ),
        )
        for sid in staff_ids
    )
    queries = [
        SlotQuery(
            service=service,
            department_hours=hours,
            staff=staff,
            bookings=tuple(bookings),
            closures=ClosurePolicy(),
            tz=TZ,
            first_day=FIRST,
            last_day=FIRST + timedelta(days=DAYS - 1),
            channel=Channel.ONLINE,
            now=datetime.combine(FIRST, time(7), tzinfo=TZ),
        )
        for service in services
    ]
    return queries, len(bookings)


INTERPRETERS = 6
INTERPRETER_BOOKINGS = 1_000


def with_interpreters(queries: list[SlotQuery], seed: int = 11) -> list[SlotQuery]:
    """The same queries, each asking for a Portuguese interpreter."""
    rng = random.Random(seed)
    mornings = Hours(weekly=tuple(WeeklyWindow(d, time(9), time(12)) for d in range(5)))
    afternoons = Hours(weekly=tuple(WeeklyWindow(d, time(13), time(17)) for d in range(5)))
    busy: dict[int, list[TimeRange]] = {i: [] for i in range(1, INTERPRETERS + 1)}
    open_days = [FIRST + timedelta(days=n) for n in range(DAYS)]
    open_days = [d for d in open_days if d.weekday() < 5]
    for _ in range(INTERPRETER_BOOKINGS):
        day = rng.choice(open_days)
        minute = rng.randrange(9 * 60, 16 * 60, 15)
        start = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=TZ)
        busy[rng.randrange(1, INTERPRETERS + 1)].append(
            TimeRange(start, start + timedelta(minutes=30))
        )
    team = tuple(
        InterpreterSpec(
            id=i,
            languages=frozenset({"pt", "en"} if i % 2 else {"pt"}),
            hours=mornings if i % 3 else afternoons,
            busy=tuple(busy[i]),
        )
        for i in range(1, INTERPRETERS + 1)
    )
    return [dataclasses.replace(q, interpreter_language="pt", interpreters=team) for q in queries]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10, help="passes over all 20 services")
    parser.add_argument(
        "--interpreters", action="store_true", help="also time queries needing an interpreter"
    )
    args = parser.parse_args()

    queries, booking_count = build()
    interpreted = with_interpreters(queries) if args.interpreters else []
    compute_slots(queries[0])  # warm the holiday cache, as a running server would have
    wall: list[float] = []
    cpu: list[float] = []
    wall_i: list[float] = []
    cpu_i: list[float] = []
    slot_count = 0
    slot_count_i = 0
    for _ in range(args.rounds):
        for n, query in enumerate(queries):
            started, started_cpu = clock.perf_counter(), clock.process_time()
            slots = compute_slots(query)
            wall.append((clock.perf_counter() - started) * 1000)
            cpu.append((clock.process_time() - started_cpu) * 1000)
            slot_count = max(slot_count, len(slots))
            if interpreted:
                started, started_cpu = clock.perf_counter(), clock.process_time()
                slots = compute_slots(interpreted[n])
                wall_i.append((clock.perf_counter() - started) * 1000)
                cpu_i.append((clock.process_time() - started_cpu) * 1000)
                slot_count_i = max(slot_count_i, len(slots))

    print(f"python {platform.python_version()} on {platform.machine()}, {_cpus()} CPUs")
    print(
        f"{STAFF} staff, {SERVICES} services, {booking_count} bookings, {DAYS} days; "
        f"{len(wall)} runs (one service each), up to {slot_count} slots per run"
    )
    # CPU time is shown too: on a shared machine wall time also measures the neighbours.
    for label, timings in (("wall", wall), ("cpu ", cpu)):
        print(f"{label}  {_summary(timings)}")
    if interpreted:
        print(
            f"with a Portuguese interpreter ({INTERPRETERS} interpreters, "
            f"{INTERPRETER_BOOKINGS} interpreter bookings): up to {slot_count_i} slots per run"
        )
        for label, timings in (("wall", wall_i), ("cpu ", cpu_i)):
            print(f"{label}  {_summary(timings)}")
        ratio = statistics.median(cpu_i) / statistics.median(cpu)
        print(f"cpu median ratio, interpreter / plain: {ratio:.2f}")


def _summary(timings: list[float]) -> str:
    ordered = sorted(timings)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]
    return (
        f"median {statistics.median(ordered):.1f} ms  p95 {p95:.1f} ms  "
        f"min {ordered[0]:.1f} ms  max {ordered[-1]:.1f} ms"
    )


def _cpus() -> str:
    return str(os.cpu_count())


if __name__ == "__main__":
    main()
