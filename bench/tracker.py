"""Tracker benchmark on PostgreSQL: 1,000,000 session records, 200,000 applications.

Creates a private database, migrates it, bulk-loads the rows with COPY
(psycopg), then times the staff list with filters and the 90-day dashboard
through the same code the pages use (``app.tracker.queries`` and
``app.tracker.dashboard``). The database is dropped afterwards unless --keep.

Run: .venv/bin/python bench/tracker.py [--records N] [--applications N] [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time as clock
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.orm import Session

from app.auth.scope import StaffScope
from app.core.db import make_engine
from app.ops.migrate import upgrade_engine
from app.tracker.dashboard import build_dashboard
from app.tracker.queries import ApplicationFilter, list_applications
from app.tracker.workflow import ApplicationStatus

TZ = ZoneInfo("Asia/Tokyo")
ADMIN_DSN = os.environ.get("MADOGUCHI_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
TODAY = date(2026, 11, 30)
SPAN_DAYS = 730  # two years of history
DEPARTMENTS = 10
STAFF = 60
BRANCHES = 5
BOOKINGS = 100_000
SURNAMES = [
    "佐藤",
    "鈴木",
    "高橋",
    "田中",
    "伊藤",
    "渡辺",
    "山本",
    "中村",
    "小林",
    "加藤",
    "吉田",
    "山田",
    "佐々木",
    "山口",
    "松本",
]
GIVEN = ["太郎", "花子", "一郎", "陽子", "健", "美咲", "大輔", "由美", "翔太", "恵"]
PROCEDURES = ["転入届", "転出届", "児童手当", "国民健康保険", "印鑑登録", "介護保険", "住民票"]
NOTE_WORDS = ["書類確認", "電話連絡済み", "本人確認", "郵送", "再提出", "窓口案内", "至急"]


def timed(fn: Callable[[], object], rounds: int) -> list[float]:
    fn()  # warm the caches and the plan
    out = []
    for _ in range(rounds):
        t0 = clock.perf_counter()
        fn()
        out.append((clock.perf_counter() - t0) * 1000)
    return out


def at_random(rng: random.Random) -> datetime:
    start = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC) - timedelta(days=SPAN_DAYS)
    return start + timedelta(seconds=rng.randrange(SPAN_DAYS * 86400))


def ts(value: datetime) -> str:
    return value.isoformat()


def seed_reference(conn: psycopg.Connection) -> None:
    conn.execute("INSERT INTO city (id, name_ja, name_en, close_public_holidays, close_year_end)"
                 " VALUES (1, 'ベンチ市', 'Bench City', true, true)")  # fmt: skip
    for d in range(1, DEPARTMENTS + 1):
        conn.execute(
            "INSERT INTO departments (id, slug, name_ja, name_en, description_ja, description_en,"
            " sort_order) VALUES (%s, %s, %s, %s, '', '', %s)",
            (d, f"dept-{d}", f"第{d}課", f"Dept {d}", d),
        )
        for wd in range(5):
            for start, end in (("08:30", "12:00"), ("13:00", "17:15")):
                conn.execute(
                    'INSERT INTO department_hours (department_id, weekday, start, "end")'
                    " VALUES (%s, %s, %s, %s)",
                    (d, wd, start, end),
                )
        conn.execute(
            "INSERT INTO services (id, department_id, slug, name_ja, name_en, description_ja,"
            " description_en, duration_min, buffer_before_min, buffer_after_min, channels,"
            " min_notice_min, horizon_days, change_cutoff_min, active, sort_order)"
            " VALUES (%s, %s, %s, %s, %s, '', '', 30, 0, 0, 'online,kiosk', 60, 60, 60, true, 0)",
            (d, d, f"svc-{d}", f"相談{d}", f"Service {d}"),
        )
    for s in range(1, STAFF + 1):
        conn.execute(
            "INSERT INTO staff (id, login, display_name, is_admin, active, feed_version)"
            " VALUES (%s, %s, %s, false, true, 1)",
            (s, f"staff{s}", f"職員{s}"),
        )
    for b in range(1, BRANCHES + 1):
        conn.execute(
            "INSERT INTO branches (id, slug, name_ja, name_en, address)"
            " VALUES (%s, %s, %s, %s, '')",
            (b, f"branch-{b}", f"第{b}支所", f"Branch {b}"),
        )
        conn.execute(
            "INSERT INTO kiosks (id, branch_id, slug, name, active) VALUES (%s, %s, %s, %s, true)",
            (b, b, f"kiosk-{b}", f"端末{b}"),
        )


def records(n: int, rng: random.Random) -> Iterator[tuple[object, ...]]:
    # Records are written as calls happen, so the table is in time order.
    starts = sorted(at_random(rng) for _ in range(n))
    for i, started in enumerate(starts):
        dept = rng.randint(1, DEPARTMENTS)
        kiosk = rng.random() < 0.2
        branch = rng.randint(1, BRANCHES) if kiosk else None
        no_show = rng.random() < 0.05
        wait = None if no_show else int(rng.expovariate(1 / 120))
        talk = None if no_show else int(rng.gauss(900, 300))
        queued = None if no_show else started + timedelta(seconds=rng.randint(-300, 300))
        answered = queued + timedelta(seconds=wait) if queued and wait is not None else None
        ended = answered + timedelta(seconds=max(talk or 0, 0)) if answered else None
        yield (
            f"bench-{i}", None, "walk-in" if kiosk and rng.random() < 0.5 else "booking",
            "kiosk" if kiosk else "home", branch, branch, dept, dept, ts(started),
            ts(queued) if queued else None, ts(answered) if answered else None,
            ts(answered) if answered else None, ts(ended) if ended else None,
            wait, max(talk, 0) if talk is not None else None,
            "no-show" if no_show else "completed", "", no_show, False, True, ts(started),
        )  # fmt: skip


def applications(n: int, rng: random.Random) -> Iterator[tuple[object, ...]]:
    statuses = [s.value for s in ApplicationStatus]
    for i in range(n):
        created = at_random(rng)
        name = f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}"
        due = (created + timedelta(days=rng.randint(7, 60))).date()
        notes = "、".join(rng.sample(NOTE_WORDS, 2)) + f" 案件{i}"
        assignee = rng.randint(1, STAFF) if rng.random() < 0.8 else None
        yield (
            f"A{created:%y}-{i:07d}", rng.choice(PROCEDURES), name, None, "ja",
            rng.choice(statuses), rng.randint(1, DEPARTMENTS), assignee, due, notes, False,
            ts(created), ts(created),
        )  # fmt: skip


def bookings(n: int, rng: random.Random) -> Iterator[tuple[object, ...]]:
    base = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC) - timedelta(days=SPAN_DAYS)
    per_staff = n // STAFF
    for s in range(1, STAFF + 1):
        for k in range(per_staff):
            start = base + timedelta(hours=k * 2)  # never overlapping for one person
            created = start - timedelta(days=rng.randint(0, 20), minutes=rng.randint(0, 1439))
            code = f"B{s:03d}{k:06d}"
            yield (
                code, f"room-{code}", rng.randint(1, DEPARTMENTS), s, "online", ts(start),
                ts(start + timedelta(minutes=30)), ts(start), ts(start + timedelta(minutes=30)),
                "confirmed", "ベンチ 住民", "ja", 0, ts(created), ts(created),
            )  # fmt: skip


def load(dsn: str, n_records: int, n_apps: int) -> None:
    rng = random.Random(20261130)
    with psycopg.connect(dsn) as conn:
        seed_reference(conn)
        with conn.cursor().copy(
            "COPY session_records (room, booking_id, kind, channel, kiosk_id, branch_id,"
            " department_id, service_id, started_at, queued_at, answered_at, connected_at,"
            " ended_at, wait_seconds, talk_seconds, outcome, notes, no_show, reconstructed,"
            " closed, updated_at) FROM STDIN"
        ) as copy:
            for row in records(n_records, rng):
                copy.write_row(row)
        with conn.cursor().copy(
            "COPY applications (reference, procedure, resident_name, resident_email, locale,"
            " status, department_id, assignee_id, due_date, notes, pseudonymised, created_at,"
            " updated_at) FROM STDIN"
        ) as copy:
            for row in applications(n_apps, rng):
                copy.write_row(row)
        with conn.cursor().copy(
            "COPY bookings (code, room_id, service_id, staff_id, channel, start_at, end_at,"
            " busy_start, busy_end, status, resident_name, locale, sequence, created_at,"
            " updated_at) FROM STDIN"
        ) as copy:
            for row in bookings(BOOKINGS, rng):
                copy.write_row(row)
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--applications", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    opts = parser.parse_args()

    name = f"mdg_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    engine = make_engine(dsn)
    try:
        upgrade_engine(engine)
        t0 = clock.perf_counter()
        load(dsn, opts.records, opts.applications)
        print(
            f"loaded {opts.records:,} records, {opts.applications:,} applications and "
            f"{BOOKINGS:,} bookings in {clock.perf_counter() - t0:.1f} s"
        )
        last = TODAY
        first = last - timedelta(days=89)
        # An administrator's scope: the benchmark measures the unrestricted queries.
        city = StaffScope(
            staff_id=0, is_admin=True, department_ids=frozenset(), service_ids=frozenset()
        )
        cases: dict[str, Callable[[Session], object]] = {
            "list: status + department": lambda s: list_applications(
                s, city, ApplicationFilter(status=ApplicationStatus.IN_PROGRESS, department_id=3),
                TODAY, TZ),
            "list: overdue + assignee": lambda s: list_applications(
                s, city, ApplicationFilter(overdue=True, assignee_id=7), TODAY, TZ),
            "list: search name '山田 花子'": lambda s: list_applications(
                s, city, ApplicationFilter(q="山田 花子"), TODAY, TZ),
            "list: search notes + 30 days": lambda s: list_applications(
                s, city, ApplicationFilter(q="再提出", created_from=TODAY - timedelta(days=29),
                                     created_to=TODAY), TODAY, TZ),
            "list: reference": lambda s: list_applications(
                s, city, ApplicationFilter(q="0123456"), TODAY, TZ),
            "dashboard: city, 90 days": lambda s: build_dashboard(s, first, last, TZ),
            "dashboard: one department, 90 days": lambda s: build_dashboard(
                s, first, last, TZ, department_id=4),
        }  # fmt: skip
        print(f"{'case':40} {'median ms':>10} {'p90 ms':>8} {'min ms':>8}")
        worst = 0.0
        with Session(engine) as session:
            for label, fn in cases.items():
                times = timed(lambda fn=fn: fn(session), opts.rounds)  # type: ignore[misc]
                med = statistics.median(times)
                worst = max(worst, med)
                p90 = statistics.quantiles(times, n=10)[8]
                print(f"{label:40} {med:10.1f} {p90:8.1f} {min(times):8.1f}")
        print(f"worst median {worst:.1f} ms (target < 300 ms)")
    finally:
        engine.dispose()
        if not opts.keep:
            with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            print(f"kept database {name}")


if __name__ == "__main__":
    main()
