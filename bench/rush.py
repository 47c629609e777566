"""Opening-day rush benchmark: thousands of residents arrive within a minute (PostgreSQL).

Run: .venv/bin/python bench/rush.py [--residents 10000] [--arrival-seconds 60]
     [--processes 2] [--rate 5] [--mode both|queue|direct] [--clients 4]

What it does, all on 127.0.0.1, once per mode (a fresh database each):

1. creates a PostgreSQL database (dropped at the end, even on error), migrates
   it and imports the demo city (``app/ops/demo_city.yaml``), whose
   ``kyufukin`` service is the rush service (2 staff, 15-minute slots, 14 days:
   a few hundred bookable times for thousands of residents);
2. starts ``--processes`` real ``madoguchi serve`` processes on that database
   (production mode, one secret), the residents spread over them;
3. ``--residents`` simulated residents arrive at random instants within
   ``--arrival-seconds``, spread over ``--clients`` load-generator processes
   (each its own event loop, their measurements merged on the shared
   monotonic clock), so the generator's own lateness stays out of the
   servers' latency:

   * ``queue`` mode: each opens the queue's front door (page), takes a place
     (form POST with its CSRF token, answered with the waiting page), then
     waits from the page's refresh interval on: four in five poll the JSON
     status as the page's script does, one in five reloads the page at its
     ``<noscript>`` refresh (no JavaScript); a poll that says "fully booked"
     ends a scripted resident (the script shows it in place, no reload); at
     its turn the waiting page sends
     it on with the admission, and it books through the JSON API
     (availability, then ``POST /api/v1/bookings`` with ``X-Rush-Admission``;
     a time taken meanwhile is retried with fresh availability); a full
     service ends it with the 「受付を終了しました（満席）」 page;
   * ``direct`` mode (the same load without the queue: ``rush`` off): each
     reads the availability and books at once, retrying taken times, until it
     books or finds nothing free;

4. reports per mode: errors (5xx, transport errors, time-outs, unexpected
   statuses: must be 0), how every resident ended (booked or told "fully
   booked"), admissions in arrival order (from the database: admitted in
   number order; numbers against the arrival requests: a request answered
   before another was sent must hold the lower number), p50/p99 of page and
   API responses over the whole run and the worst 10-second window, bookings
   per second while booking went on, and the load average.

Exit status: 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import multiprocessing
import os
import platform
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from booking_storm import create_database, drop_database, free_port  # noqa: E402

from app.core.db import make_engine  # noqa: E402
from app.ops.demo import DEMO_CITY  # noqa: E402
from app.ops.migrate import upgrade_engine  # noqa: E402
from app.rush.models import RushTicket  # noqa: E402
from scheduler.importer import import_city, load_city_file  # noqa: E402
from scheduler.models import Booking, BookingStatus, Service  # noqa: E402

LOOPBACK = "127.0.0.1"
RUSH_SLUG = "kyufukin"
SECRET = "rush-bench-" + "s" * 40
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
REFRESH = re.compile(r'http-equiv="refresh" content="(\d+)')
WAIT_URL = re.compile(r'data-wait-url="(/rush/wait/[^"]+)"')
WINDOW = 10.0  # seconds per latency window
TIMEOUT = 60.0
WARM_UP = 10  # concurrent requests of each kind per server before the run
POOLS_PER_SERVER = 12  # HTTP connection pools per server in each client process
POOL_CONNECTIONS = 32  # connections per pool
MAX_TRIES = 10  # booking attempts per admitted resident before giving up (counted as error)


# -- database and servers -----------------------------------------------------------


def prepare(url: str, *, rush: bool) -> tuple[Engine, int]:
    engine = make_engine(url)
    upgrade_engine(engine)
    with Session(engine) as session:
        import_city(session, load_city_file(DEMO_CITY))
        service_id = session.scalars(select(Service.id).where(Service.slug == RUSH_SLUG)).one()
        session.execute(update(Service).where(Service.id == service_id).values(rush=rush))
        session.commit()
    return engine, int(service_id)


@contextmanager
def servers(url: str, count: int, rate: float, log_dir: Path) -> Iterator[list[tuple[str, int]]]:
    procs: list[subprocess.Popen[bytes]] = []
    bases: list[tuple[str, int]] = []
    env_base = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    try:
        for n in range(count):
            port = free_port()
            env = {
                **env_base,
                "MADOGUCHI_MODE": "production",
                "MADOGUCHI_SECRET_KEY": SECRET,
                "MADOGUCHI_DATABASE_URL": url,
                "MADOGUCHI_PORT": str(port),
                "MADOGUCHI_SIGNALING_PORT": str(free_port()),
                "MADOGUCHI_PUBLIC_BASE_URL": f"http://{LOOPBACK}:{port}",
                "MADOGUCHI_RUSH_ADMISSIONS_PER_SECOND": str(rate),
                "PYTHONPATH": str(ROOT),
            }
            with (log_dir / f"server-{n}.log").open("wb") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "app.cli", "serve"],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            procs.append(proc)
            bases.append((f"http://{LOOPBACK}:{port}", proc.pid))
        for (base, _), proc in zip(bases, procs, strict=True):
            wait_healthy(base, proc)
        yield bases
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


def wait_healthy(base: str, proc: subprocess.Popen[bytes]) -> None:
    # Start-up takes minutes on a machine other tenants keep busy.
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server {base} exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server {base} not healthy after 600 s")


# -- measurements ---------------------------------------------------------------------


@dataclass
class Sample:
    at: float  # seconds since the run began, when the request was sent
    kind: str  # "page" or "api"
    seconds: float
    status: int  # 0: transport error or time-out


@dataclass
class Resident:
    n: int
    arrive_at: float
    outcome: str = "none"  # booked | full | error
    number: int | None = None
    sent: float = 0.0  # the place-taking request: sent and answered (run seconds)
    answered: float = 0.0
    booked_at: float | None = None


@dataclass
class Run:
    began: float = field(default_factory=time.monotonic)
    samples: list[Sample] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def now(self) -> float:
        return time.monotonic() - self.began

    async def call(
        self,
        http: httpx.AsyncClient,
        kind: str,
        method: str,
        url: str,
        *,
        ok: Sequence[int],
        **kwargs: Any,
    ) -> httpx.Response | None:
        sent = self.now()
        try:
            r = await http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            self.samples.append(Sample(sent, kind, self.now() - sent, 0))
            self.errors[f"{type(exc).__name__} {method} {kind}"] += 1
            return None
        self.samples.append(Sample(sent, kind, self.now() - sent, r.status_code))
        if r.status_code not in ok:
            self.errors[f"{r.status_code} {method} {_label(url)}"] += 1
            return None
        return r


def _label(url: str) -> str:
    path = httpx.URL(url).path
    return re.sub(r"/[A-Za-z0-9_.-]{30,}", "/{token}", re.sub(r"/\d+", "/{id}", path))


def percentile(values: Sequence[float], p: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


# -- residents ---------------------------------------------------------------------------


async def book(
    run: Run,
    http: httpx.AsyncClient,
    base: str,
    service_id: int,
    resident: Resident,
    rng: random.Random,
    admission: str | None,
) -> str:
    """Book the rush service through the JSON API: booked, or full when nothing is free."""
    today = date.today()
    params = {"from": today.isoformat(), "to": (today + timedelta(days=15)).isoformat()}
    headers = {"X-Rush-Admission": admission} if admission else {}
    for _ in range(MAX_TRIES):
        r = await run.call(
            http,
            "api",
            "GET",
            f"{base}/api/v1/services/{service_id}/availability",
            ok=(200,),
            params=params,
        )
        if r is None:
            return "error"
        slots = r.json()["slots"]
        if not slots:
            return "full"
        # People choose all over the two weeks offered.
        start = rng.choice(slots)["start"]
        body = {
            "service_id": service_id,
            "start": start,
            "channel": "online",
            "name": f"住民 {resident.n}",
            "email": f"resident{resident.n}@example.jp",
        }
        r = await run.call(
            http,
            "api",
            "POST",
            f"{base}/api/v1/bookings",
            ok=(201, 409),
            json=body,
            headers=headers,
        )
        if r is None:
            return "error"
        if r.status_code == 201:
            resident.booked_at = run.now()
            return "booked"
        code = r.json()["error"]["code"]
        if code != "slot-unavailable":
            run.errors[f"409 {code}"] += 1
            return "error"
    run.errors["gave up after taken times"] += 1
    return "error"


async def queue_resident(
    run: Run,
    http: httpx.AsyncClient,
    base: str,
    service_id: int,
    resident: Resident,
    rng: random.Random,
) -> None:
    await asyncio.sleep(max(0.0, resident.arrive_at - run.now()))
    cookies: dict[str, str] = {}
    r = await run.call(http, "page", "GET", f"{base}/rush/{service_id}", ok=(200,))
    if r is None:
        resident.outcome = "error"
        return
    if 'data-rush="full"' in r.text:
        resident.outcome = "full"
        return
    cookies.update(r.cookies)
    token = CSRF.search(r.text)
    assert token is not None, r.text[:300]
    resident.sent = run.now()
    r = await run.call(
        http,
        "page",
        "POST",
        f"{base}/rush/{service_id}",
        ok=(200,),
        data={"csrf_token": token.group(1)},
        headers=cookie_header(cookies),
    )
    resident.answered = run.now()
    if r is None:
        resident.outcome = "error"
        return
    # Taking a place answers with the waiting page itself (or the full page).
    kind = re.search(r'data-rush="([a-z-]+)"', r.text)
    state = kind.group(1) if kind else "?"
    if state == "full":
        resident.outcome = "full"
        return
    wait_match = WAIT_URL.search(r.text)
    if state != "waiting" or wait_match is None:
        run.errors[f"taking a place said {state}"] += 1
        resident.outcome = "error"
        return
    wait = wait_match.group(1)
    ticket = wait.rsplit("/", 1)[1]
    resident.number = int(_ticket_number(ticket))
    scripted = resident.n % 5 != 0
    delay = _refresh(r.text)
    while True:
        await asyncio.sleep(delay)
        if scripted:
            r = await run.call(
                http, "api", "GET", f"{base}/api/v1/rush/tickets/{ticket}", ok=(200,)
            )
            if r is None:
                resident.outcome = "error"
                return
            place = r.json()
            if place["state"] == "waiting":
                delay = place["retry_after"]
                continue
            if place["state"] == "full":  # the script says so in place, no reload
                resident.outcome = "full"
                return
        # At the turn or any final answer the script reloads the waiting page;
        # without JavaScript the page's refresh does.
        r = await run.call(http, "page", "GET", f"{base}{wait}", ok=(200, 303))
        if r is None:
            resident.outcome = "error"
            return
        if r.status_code == 303:
            admission = r.cookies.get(f"rush_admission_{service_id}")
            resident.outcome = await book(run, http, base, service_id, resident, rng, admission)
            return
        kind = re.search(r'data-rush="([a-z-]+)"', r.text)
        state = kind.group(1) if kind else "?"
        if state == "full":
            resident.outcome = "full"
            return
        if state != "waiting":
            run.errors[f"waiting page said {state}"] += 1
            resident.outcome = "error"
            return
        delay = _refresh(r.text)


def _refresh(page: str) -> float:
    refresh = REFRESH.search(page)
    return float(refresh.group(1)) if refresh else 10.0


def cookie_header(cookies: dict[str, str]) -> dict[str, str]:
    # Each resident is its own browser: cookies go by hand, the shared client keeps none.
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}


def _ticket_number(ticket: str) -> int:
    # The ticket token's payload is base64 JSON {"s": id, "n": number}; read, not trusted.
    payload = ticket.split(".", 1)[0]
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return int(data["n"])


async def direct_resident(
    run: Run,
    http: httpx.AsyncClient,
    base: str,
    service_id: int,
    resident: Resident,
    rng: random.Random,
) -> None:
    await asyncio.sleep(max(0.0, resident.arrive_at - run.now()))
    resident.outcome = await book(run, http, base, service_id, resident, rng, None)


async def drive(
    run: Run, bases: list[str], service_id: int, residents: list[Resident], mode: str, seed: int
) -> None:
    # Idle connections are dropped well before uvicorn's 5-second keep-alive
    # closes them, so a request never goes out on a connection the server is
    # closing, even when a loaded machine runs this event loop seconds late.
    #
    # Small pools, many of them: httpcore matches every waiting request against
    # every connection of its pool on each event, so one pool of 400
    # connections with thousands of residents queued on it spent the client's
    # whole CPU there (py-spy: Origin.__eq__, can_handle_request) while the
    # servers sat at 5 % each.
    limits = httpx.Limits(
        max_connections=POOL_CONNECTIONS,
        max_keepalive_connections=POOL_CONNECTIONS,
        keepalive_expiry=1.0,
    )
    clients = [
        [
            httpx.AsyncClient(
                limits=limits,
                timeout=TIMEOUT,
                trust_env=False,
                follow_redirects=False,
                # One client stands for many browsers: it must keep no cookies.
                cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            )
            for _ in range(POOLS_PER_SERVER)
        ]
        for _ in bases
    ]
    try:
        tasks = []
        for resident in residents:
            n = resident.n % len(bases)
            pool = clients[n][(resident.n // len(bases)) % POOLS_PER_SERVER]
            rng = random.Random(seed * 100_003 + resident.n)
            target = queue_resident if mode == "queue" else direct_resident
            tasks.append(
                asyncio.create_task(target(run, pool, bases[n], service_id, resident, rng))
            )
        await asyncio.gather(*tasks)
    finally:
        for pools in clients:
            for client in pools:
                await client.aclose()


async def warm_up(bases: list[str], service_id: int) -> None:
    """A few concurrent page and API reads per server before the clock starts.

    A city's servers are up long before its opening minute: their database
    pools are open and their templates compiled. Without this, the first
    window would measure a cold start instead. Nobody takes a place here.
    """
    today = date.today()
    params = {"from": today.isoformat(), "to": (today + timedelta(days=15)).isoformat()}
    async with httpx.AsyncClient(timeout=TIMEOUT, trust_env=False) as http:
        for _ in range(3):
            calls = []
            for base in bases:
                for _ in range(WARM_UP):
                    calls.append(http.get(f"{base}/rush/{service_id}"))
                    calls.append(
                        http.get(f"{base}/api/v1/services/{service_id}/availability", params=params)
                    )
            await asyncio.gather(*calls)


def client_process(
    bases: list[str],
    service_id: int,
    residents: list[Resident],
    mode: str,
    seed: int,
    began: float,
) -> tuple[list[Sample], Counter[str], list[Resident]]:
    """One load-generator process: its share of the residents on its own event loop.

    ``began`` is the run's common start on the monotonic clock, which every
    process of the machine shares, so samples from all processes line up.
    """
    run = Run(began=began)
    asyncio.run(drive(run, bases, service_id, residents, mode, seed))
    return run.samples, run.errors, residents


def drive_all(
    bases: list[str],
    service_id: int,
    residents: list[Resident],
    mode: str,
    seed: int,
    processes: int,
) -> tuple[Run, list[Resident]]:
    """Spread the residents over ``processes`` client processes and merge what they measured.

    One event loop for 10,000 residents runs late under load, and its lateness
    would be counted as the servers' latency; several loops keep each short.
    """
    # Time for the processes to start before the first arrival.
    began = time.monotonic() + 1.0
    shares = [residents[i::processes] for i in range(processes)]
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        parts = pool.starmap(
            client_process, [(bases, service_id, share, mode, seed, began) for share in shares]
        )
    run = Run(began=began)
    merged: list[Resident] = []
    for samples, errors, share in parts:
        run.samples.extend(samples)
        run.errors.update(errors)
        merged.extend(share)
    run.samples.sort(key=lambda sample: sample.at)
    merged.sort(key=lambda resident: resident.n)
    return run, merged


# -- report ------------------------------------------------------------------------------


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@dataclass
class Outcome:
    lines: list[str]
    failures: list[str]


def report(
    mode: str, run: Run, residents: list[Resident], engine: Engine, service_id: int, wall: float
) -> Outcome:
    lines: list[str] = []
    failures: list[str] = []

    def check(ok: bool, what: str) -> None:
        lines.append(f"  [{'ok' if ok else 'FAIL'}] {what}")
        if not ok:
            failures.append(what)

    outcomes = Counter(r.outcome for r in residents)
    errors = sum(run.errors.values())
    with Session(engine) as session:
        confirmed = len(
            session.scalars(
                select(Booking.id).where(
                    Booking.service_id == service_id, Booking.status == BookingStatus.CONFIRMED
                )
            ).all()
        )
        admissions = session.execute(
            select(RushTicket.number, RushTicket.admitted_at)
            .where(RushTicket.service_id == service_id)
            .order_by(RushTicket.number)
        ).all()
    check(errors == 0, f"errors: {errors} {dict(run.errors) if errors else ''}")
    check(
        outcomes["booked"] + outcomes["full"] == len(residents),
        f"every resident ended booked or told fully booked: {dict(outcomes)}",
    )
    check(
        confirmed == outcomes["booked"],
        f"confirmed bookings {confirmed} == booked {outcomes['booked']}",
    )
    if mode == "queue":
        admitted = [(n, at) for n, at in admissions if at is not None]
        late = sum(1 for (_, a), (_, b) in itertools.pairwise(admitted) if b < a)
        gaps = admitted and [n for n, _ in admitted] != list(range(1, len(admitted) + 1))
        check(
            late == 0 and not gaps,
            f"admitted in number order: {len(admitted)} admitted, {late} out of order "
            f"({late / max(1, len(admitted)):.2%}), admitted numbers a prefix: {not gaps}",
        )
        taken = sorted((r for r in residents if r.number is not None), key=lambda r: r.sent)
        # A place request answered before another was sent must hold the lower number.
        causal = 0
        best_answered: list[tuple[float, int]] = sorted((r.answered, r.number or 0) for r in taken)
        i, highest = 0, 0
        for r in taken:
            while i < len(best_answered) and best_answered[i][0] < r.sent:
                highest = max(highest, best_answered[i][1])
                i += 1
            if (r.number or 0) < highest:
                causal += 1
        adjacent = sum(1 for a, b in itertools.pairwise(taken) if (b.number or 0) < (a.number or 0))
        check(
            causal == 0,
            f"numbers against arrivals: {causal} residents numbered before someone whose "
            f"request was answered before theirs was sent; {adjacent} of {len(taken)} "
            f"({adjacent / max(1, len(taken)):.2%}) adjacent arrivals swapped while in flight",
        )
    booked_times = sorted(r.booked_at for r in residents if r.booked_at is not None)
    if len(booked_times) > 1:
        span = booked_times[-1] - booked_times[0]
        lines.append(
            f"  bookings: {len(booked_times)} in {span:.1f} s from first to last "
            f"({len(booked_times) / max(span, 1e-9):.1f} bookings/s)"
        )
    for kind in ("page", "api"):
        values = [s.seconds for s in run.samples if s.kind == kind]
        if not values:
            continue
        windows: dict[int, list[float]] = defaultdict(list)
        for s in run.samples:
            if s.kind == kind:
                windows[int(s.at // WINDOW)].append(s.seconds)
        worst = max((percentile(v, 99), k) for k, v in windows.items() if len(v) >= 20)
        p99 = percentile(values, 99)
        lines.append(
            f"  {kind}: {len(values)} responses, p50 {percentile(values, 50) * 1000:.0f} ms, "
            f"p99 {p99 * 1000:.0f} ms, worst 10-s window p99 {worst[0] * 1000:.0f} ms "
            f"(at {worst[1] * WINDOW:.0f} s), max {max(values) * 1000:.0f} ms"
        )
        check(worst[0] < 1.0, f"{kind} p99 under 1 s in every 10-s window")
    lines.append(
        f"  wall time {wall:.0f} s; requests {len(run.samples)} "
        f"({len(run.samples) / max(1, len(residents)):.1f} per resident); "
        f"load average {loadavg()}"
    )
    return Outcome(lines, failures)


# -- main ----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--residents", type=int, default=10_000)
    parser.add_argument("--arrival-seconds", type=float, default=60.0)
    parser.add_argument("--processes", type=int, default=2, help="madoguchi serve processes")
    parser.add_argument("--rate", type=float, default=5.0, help="admissions per second")
    parser.add_argument("--mode", choices=("both", "queue", "direct"), default="both")
    parser.add_argument(
        "--clients", type=int, default=4, help="load-generator processes (residents spread)"
    )
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args(argv)
    if args.residents < 1 or args.processes < 1 or args.clients < 1 or args.arrival_seconds <= 0:
        parser.error("--residents, --processes, --clients and --arrival-seconds must be positive")
    return args


def run_mode(mode: str, args: argparse.Namespace) -> Outcome:
    name, url = create_database()
    engine: Engine | None = None
    log_dir = Path(tempfile.mkdtemp(prefix=f"rush-{mode}-"))
    try:
        engine, service_id = prepare(url, rush=mode == "queue")
        rng = random.Random(args.seed)
        arrivals = sorted(rng.uniform(0, args.arrival_seconds) for _ in range(args.residents))
        with servers(url, args.processes, args.rate, log_dir) as procs:
            bases = [base for base, _ in procs]
            asyncio.run(warm_up(bases, service_id))
            print(f"[{mode}] {len(bases)} servers up; load average {loadavg()}", flush=True)
            residents = [Resident(n, at) for n, at in enumerate(arrivals)]
            run, residents = drive_all(bases, service_id, residents, mode, args.seed, args.clients)
            wall = time.monotonic() - run.began
        outcome = report(mode, run, residents, engine, service_id, wall)
        print(f"\n[{mode}] {'with the admission queue' if mode == 'queue' else 'no queue'}:")
        print("\n".join(outcome.lines), flush=True)
        print(f"  server logs: {log_dir}")
        return outcome
    finally:
        if engine is not None:
            engine.dispose()
        drop_database(name)


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    print(
        f"rush: {args.residents} residents within {args.arrival_seconds:.0f} s, "
        f"{args.processes} processes, {args.clients} client processes, "
        f"{args.rate}/s admissions, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average {loadavg()}"
    )
    modes = ("queue", "direct") if args.mode == "both" else (args.mode,)
    failures = []
    for mode in modes:
        outcome = run_mode(mode, args)
        # Only the queue must pass: the direct run is the comparison.
        if mode == "queue":
            failures.extend(outcome.failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
