"""How many concurrent writers the embedded default (one ``serve`` on SQLite) sustains.

Run: .venv/bin/python bench/sqlite_writers.py [--clients 8,16,32,64] [--seconds 20]

Starts ``madoguchi serve`` on a fresh SQLite database (the demo city) and, for
each client count, has that many clients send write requests back to back for
``--seconds``: half staff heartbeats (a presence update and a routing round),
half bookings (availability read, then the booking transaction). Prints
per count: write requests/s, latency p50/p99/max, and the 503 answers (a
request that did not get the write lock within its bound,
MADOGUCHI_DB_LOCK_TIMEOUT_SECONDS, default 3 s). The figures are in
docs/benchmarks.md; docs/deploy.md says when to move to PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "support"))

from live_server import LiveServer  # noqa: E402


async def client(
    server: LiveServer, i: int, until: float, slots: list[tuple[int, str]], out: dict[str, list]
) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, headers=server.auth()) as http:
        n = 0
        while time.monotonic() < until:
            n += 1
            started = time.monotonic()
            if i % 2 == 0 or not slots:
                r = await http.post("/api/v1/staff/presence/heartbeat", timeout=30)
            else:
                service, start = random.choice(slots)
                body = {
                    "service_id": service,
                    "start": start,
                    "name": f"bench {i}-{n}",
                    "email": f"w{i}.{n}.{random.randrange(10**9)}@example.test",
                }
                r = await http.post("/api/v1/bookings", json=body, timeout=30)
            out["latency"].append(time.monotonic() - started)
            out["status"].append(r.status_code)


async def burst(
    server: LiveServer, count: int, seconds: float, slots: list[tuple[int, str]], out: dict
) -> None:
    until = time.monotonic() + seconds
    await asyncio.gather(*(client(server, i, until, slots, out) for i in range(count)))


def slots_of(server: LiveServer) -> list[tuple[int, str]]:
    departments = httpx.get(server.base_url + "/api/v1/departments").json()
    today = date.today()
    found = []
    for d in departments:
        for s in d["services"]:
            if "online" not in s["channels"]:
                continue
            r = httpx.get(
                f"{server.base_url}/api/v1/services/{s['id']}/availability",
                params={"from": str(today), "to": str(today + timedelta(days=30))},
                timeout=60,
            )
            found += [(s["id"], slot["start"]) for slot in r.json()["slots"]]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="8,16,32,64")
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="writers-") as tmp:
        server = LiveServer(Path(tmp) / "server")
        server.start()
        try:
            slots = slots_of(server)
            for count in [int(c) for c in args.clients.split(",")]:
                out: dict[str, list] = {"latency": [], "status": []}
                asyncio.run(burst(server, count, args.seconds, slots, out))
                lat = sorted(out["latency"])
                statuses = Counter(out["status"])
                print(
                    f"{count:3d} writers: {len(lat) / args.seconds:6.1f} writes/s, "
                    f"p50 {lat[len(lat) // 2] * 1000:5.0f} ms, "
                    f"p99 {lat[int(len(lat) * 0.99)] * 1000:5.0f} ms, max {lat[-1]:.2f} s, "
                    f"503: {statuses[503]}, statuses {dict(sorted(statuses.items()))}",
                    flush=True,
                )
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
