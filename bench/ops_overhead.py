"""Cost of the request metrics middleware per HTTP request, in-process.

Two apps on one in-memory database, identical except that one has
``RequestMetrics`` removed; rounds alternate between them so both see the
same machine load. Reports the median CPU time per request of each and the
ratio.

    .venv/bin/python bench/ops_overhead.py --requests 2000 --rounds 7
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.context import AppContext
from app.core.settings import Settings
from app.main import create_app
from app.ops.metrics import RequestMetrics


def build(with_metrics: bool) -> FastAPI:
    ctx = AppContext.from_settings(Settings(database_url="sqlite://", secret_key="b" * 40))
    app = create_app(ctx)
    if not with_metrics:
        app.user_middleware = [m for m in app.user_middleware if m.cls is not RequestMetrics]
    return app


def run(client: TestClient, path: str, n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        client.get(path)
    return (time.process_time() - started) / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--path", default="/livez")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    with TestClient(build(True)) as on, TestClient(build(False)) as off:
        run(on, args.path, 200)
        run(off, args.path, 200)
        with_m, without_m = [], []
        for _ in range(args.rounds):
            with_m.append(run(on, args.path, args.requests))
            without_m.append(run(off, args.path, args.requests))
    a, b = statistics.median(with_m), statistics.median(without_m)
    print(f"GET {args.path}: {args.requests} requests x {args.rounds} rounds")
    print(f"  with RequestMetrics    median {a * 1e6:8.1f} us CPU/request")
    print(f"  without RequestMetrics median {b * 1e6:8.1f} us CPU/request")
    print(f"  ratio {a / b:.3f}  (overhead {(a - b) * 1e6:.1f} us/request)")


if __name__ == "__main__":
    main()
