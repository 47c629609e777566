"""CPU per booking in-process: ``place_booking`` + ``booking_out`` on the storm's seeded database.

Run: .venv/bin/python bench/booking_cpu.py [--bookings N] [--repeat R] [--profile]

The server-side work of one ``POST /api/v1/bookings`` without HTTP, uvicorn
or the client: a fresh writer session, ``place_booking`` (book, confirmation
mail in the outbox, commit) and the response model, run sequentially, so no
booking loses a race. The database is created and seeded as in
``bench/booking_storm.py`` and dropped at the end. It reports process CPU ms
per booking (``time.process_time``) for each of ``--repeat`` rounds and their
minimum, the figure least disturbed by other load on the machine; PostgreSQL's
own CPU is not counted. ``--profile`` prints the top of a cProfile of one more
round instead.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from booking_storm import (  # noqa: E402
    NOW,
    booking_body,
    create_database,
    drop_database,
    prepare_database,
)
from storm_app import BENCH_SECRET, LOOPBACK  # noqa: E402

from app.api.bookings import place_booking  # noqa: E402
from app.api.schemas import BookingCreate, booking_out  # noqa: E402
from app.core.clock import FixedClock  # noqa: E402
from app.core.context import AppContext  # noqa: E402
from app.core.settings import Settings  # noqa: E402
from scheduler.service import SchedulingService  # noqa: E402
from scheduler.types import Channel  # noqa: E402


def free_starts(ctx: AppContext, service_ids: Sequence[int]) -> list[tuple[int, datetime]]:
    """Every free (service, start) of the 30 days, once each."""
    first = NOW.astimezone(ctx.tz).date()
    last = first + timedelta(days=29)
    starts: list[tuple[int, datetime]] = []
    with ctx.sessions() as session:
        svc = SchedulingService(session, tz=ctx.tz)
        for service_id in service_ids:
            for slot in svc.availability(service_id, first, last, Channel.ONLINE, NOW):
                starts.append((service_id, slot.start))
    return starts


def one_round(ctx: AppContext, bodies: Sequence[BookingCreate]) -> float:
    began = time.process_time()
    for body in bodies:
        with ctx.writer_sessions() as session:
            svc = SchedulingService(session, tz=ctx.tz)
            booking = place_booking(body, svc, ctx)
            booking_out(booking, ctx.links, ctx.tz, body.locale)
    return (time.process_time() - began) * 1000 / len(bodies)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--bookings", type=int, default=200, help="bookings per round")
    parser.add_argument("--repeat", type=int, default=3, help="measured rounds")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--existing", type=int, default=1000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sql", action="store_true", help="count statements per booking")
    parser.add_argument("--callees", help="with --profile: the callees of functions matching this")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    name, url = create_database()
    engine = None
    try:
        engine, seeded = prepare_database(url, args.existing, random.Random(args.seed))
        settings = Settings(
            mode="demo",
            database_url=url,
            secret_key=BENCH_SECRET,
            public_base_url=f"http://{LOOPBACK}:8000",
            demo_data=False,
        )
        ctx = AppContext(settings=settings, engine=engine, clock=FixedClock(NOW))
        # Each start is free for several of the 50 staff and is booked at most once
        # per service, so every booking succeeds whomever the ranking picks.
        starts = free_starts(ctx, seeded.service_ids)
        random.Random(args.seed).shuffle(starts)
        rounds = args.repeat + (1 if args.profile else 0)
        needed = args.warmup + rounds * args.bookings
        if needed > len(starts):
            parser.error(f"only {len(starts)} free starts for {needed} bookings")
        bodies = [
            BookingCreate.model_validate(booking_body(sid, start.isoformat(), n))
            for n, (sid, start) in enumerate(starts[:needed])
        ]
        one_round(ctx, bodies[: args.warmup])
        statements: list[str] = []
        if args.sql:
            event.listen(
                engine,
                "before_cursor_execute",
                lambda _c, _cur, sql, *_rest: statements.append(sql.split(None, 1)[0]),
            )
        rest = bodies[args.warmup :]
        figures = []
        for r in range(args.repeat):
            ms = one_round(ctx, rest[r * args.bookings : (r + 1) * args.bookings])
            figures.append(ms)
            print(f"round {r + 1}: {ms:.2f} ms CPU per booking")
            if args.sql:
                counts = {k: v / args.bookings for k, v in Counter(statements).items()}
                print("  statements per booking:", counts)
                statements.clear()
        print(f"min {min(figures):.2f} ms, rounds of {args.bookings} bookings")
        if args.profile:
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
            one_round(ctx, rest[args.repeat * args.bookings :])
            profiler.disable()
            stats = pstats.Stats(profiler).sort_stats("cumulative")
            stats.print_stats(45)
            if args.callees:
                stats.print_callees(args.callees)
        return 0
    finally:
        if engine is not None:
            engine.dispose()
        drop_database(name)


if __name__ == "__main__":
    sys.exit(main())
