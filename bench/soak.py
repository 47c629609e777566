"""Ten minutes of mixed load against ``madoguchi serve`` (tests/app/test_cli_soak.py, longer).

Run: .venv/bin/python bench/soak.py [--backend sqlite|postgres|both] [--minutes 10]
     [--residents 12] [--kiosks 4] [--staff 8] [--consoles 4] [--pace 1.0]

``sqlite``: one ``madoguchi serve`` on the embedded default. ``postgres``: two
``serve`` processes (each with its signaling node and jobs loop) on a fresh
PostgreSQL database (127.0.0.1:5432, dropped afterwards) and Redis
(127.0.0.1:6379). Both send mail to a real SMTP sink on 127.0.0.1.

The load (tests/support/soak_load.py): residents book and cancel; kiosks take
tickets and enter the call when it is answered; staff members keep presence
and heartbeats, accept offers, join the call over signaling and finish it;
consoles keep their SSE streams open; the jobs loops run. Prints requests,
latency, bookings, calls, mail and the servers' RSS; exit status 0 only with
no 5xx, no lost or duplicated booking, no overlap, no lost or doubled mail, a
clean shutdown and RSS growth under 10 % after the first third of the run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "support"))

from soak_load import run_soak  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"


def one(backend: str, args: argparse.Namespace, workdir: Path) -> bool:
    pg_name = None
    options = {}
    if backend == "postgres":
        pg_name = f"mdg_soakbench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{pg_name}"')
        options = {
            "database_url": f"{PG_ADMIN.rsplit('/', 1)[0]}/{pg_name}",
            "redis_url": REDIS,
            "processes": 2,
        }
    try:
        outcome = run_soak(
            workdir / backend,
            seconds=args.minutes * 60,
            staff=args.staff,
            residents=args.residents,
            kiosks=args.kiosks,
            consoles=args.consoles,
            pace=args.pace,
            warmup_share=1 / 3,
            **options,  # type: ignore[arg-type]
        )
    finally:
        if pg_name:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
    print(f"== {backend}: {outcome.summary()}")
    for name, samples in outcome.stats.rss.items():
        mib = [r / 2**20 for _, r in samples]
        print(
            f"   {name} RSS MiB: start {mib[0]:.0f}, min {min(mib):.0f}, "
            f"max {max(mib):.0f}, end {mib[-1]:.0f}"
        )
    problems = outcome.problems()
    for problem in problems:
        print(f"   PROBLEM: {problem}")
    return not problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--residents", type=int, default=12)
    parser.add_argument("--kiosks", type=int, default=4)
    parser.add_argument("--staff", type=int, default=8)
    parser.add_argument("--consoles", type=int, default=4)
    parser.add_argument("--pace", type=float, default=1.0)
    parser.add_argument("--keep", type=Path, help="keep the servers' logs here")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if args.keep:
        return 0 if all([one(b, args, args.keep) for b in backends]) else 1
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        results = [one(b, args, Path(tmp)) for b in backends]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
