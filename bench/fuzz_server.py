"""Concurrent schemathesis run against ``madoguchi serve``, longer than the CI test.

Run: .venv/bin/python bench/fuzz_server.py [--backend sqlite|postgres|both]
     [--workers 8] [--minutes 5] [--max-examples 100]

Starts the server as a subprocess on a fresh embedded SQLite database and/or a
fresh PostgreSQL database (127.0.0.1:5432, dropped afterwards), then runs
schemathesis over HTTP with the given workers, the staff API key, OpenAPI links
(stateful phase) and a 2 s response-time limit, until ``--minutes`` are spent.
Prints, per backend: requests, answers by status, the slowest request, the
server's RSS, failures by check. Exit status 0 only with no 5xx, no schema
violation, no request over 2 s and a clean shutdown (tests/app/test_cli_fuzz.py
runs the bounded version of this in CI).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "support"))

from fuzz_runner import run_fuzz  # noqa: E402
from live_server import LiveServer  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def one(backend: str, args: argparse.Namespace, workdir: Path) -> bool:
    pg_name = None
    url = None
    if backend == "postgres":
        pg_name = f"mdg_fuzzbench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{pg_name}"')
        url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{pg_name}"
    server = LiveServer(workdir / backend, database_url=url)
    try:
        server.start()
        started = time.monotonic()
        result = run_fuzz(
            server,
            workdir / f"{backend}-report",
            workers=args.workers,
            max_examples=args.max_examples,
            max_time=args.minutes * 60,
            max_response_time=2.0,
            seed=args.seed,
        )
        took = time.monotonic() - started
        rss = server.rss_bytes() / 2**20
    finally:
        code = server.stop()
        if pg_name:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
    print(f"== {backend}: {args.workers} workers, {took:.0f} s")
    print(f"   {result.summary()}")
    print(f"   {result.requests / took:.1f} requests/s, server RSS {rss:.0f} MiB, exit {code}")
    for where, elapsed in result.slow[:10]:
        print(f"   slow: {elapsed:.2f} s {where[:120]}")
    for failure in sorted(set(result.failures))[:20]:
        print(f"   failure: {failure[:300]}")
    for error in result.errors[:10]:
        print(f"   error: {error[:300]}")
    ok = result.server_errors == 0 and not result.slow and not result.failures
    return ok and result.returncode == 0 and code == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--max-examples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", type=Path, help="keep the server logs and reports here")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if args.keep:
        return 0 if all([one(b, args, args.keep) for b in backends]) else 1
    with tempfile.TemporaryDirectory(prefix="fuzzbench-") as tmp:
        results = [one(b, args, Path(tmp)) for b in backends]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
