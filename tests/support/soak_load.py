"""Mixed load against running ``madoguchi serve`` processes, and the checks after it.

Residents book and cancel; kiosks take tickets, wait, and enter the call when
a staff member accepts; staff members send presence and heartbeats, accept
offers, join the call over signaling and finish it; staff consoles keep their
SSE streams (queue and counter) open; the servers' jobs loops deliver the
outbox to a real SMTP server. Afterwards, from the database: every 201 booking
exists exactly once with the status the load left it in, no two confirmed
bookings of one staff member overlap, every mail in the outbox was delivered
exactly once, and the servers' memory stayed flat after the warm-up.

Used by tests/app/test_cli_soak.py (about a minute) and bench/soak.py (ten).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import holidays
import httpx
from live_server import LiveServer, kiosk_token  # type: ignore[import-not-found]
from smtp_inbox import smtp_server  # type: ignore[import-not-found]
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from websockets.asyncio.client import connect

from app.auth import api_keys
from app.core.db import make_engine
from app.core.outbox import OutboxMail
from scheduler.models import Booking, Kiosk, Staff

STAFF_PASSWORD = "demo"  # the demo city's
REQUEST_TIMEOUT = 30.0


@dataclass
class Booked:
    code: str
    token: str
    cancelled: bool = False


@dataclass
class SoakStats:
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    booked: dict[str, Booked] = field(default_factory=dict)
    calls_signalled: int = 0
    kiosk_calls_joined: int = 0
    sse_events: int = 0
    transport_errors: Counter[str] = field(default_factory=Counter)
    rss: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)

    def server_errors(self) -> dict[str, int]:
        return {f"{op} {st}": n for (op, st), n in self.statuses.items() if st >= 500}

    def count(self, op: str, status: int) -> int:
        return self.statuses[(op, status)]

    def requests(self) -> int:
        return sum(self.statuses.values())

    def rss_growth(self, warmup_share: float) -> dict[str, float]:
        """Per server: RSS at the end over RSS right after the warm-up, minus one."""
        growth = {}
        for name, samples in self.rss.items():
            if len(samples) < 4:
                continue
            start, end = samples[0][0], samples[-1][0]
            cut = start + (end - start) * warmup_share
            after = [r for t, r in samples if t >= cut]
            base = statistics.median(after[:3])
            last = statistics.median(after[-3:])
            growth[name] = last / base - 1
        return growth


class Soak:
    def __init__(
        self,
        servers: list[LiveServer],
        staff_keys: dict[str, str],
        *,
        residents: int = 6,
        kiosks: int = 3,
        consoles: int = 2,
        seconds: float = 60.0,
        pace: float = 1.0,
    ) -> None:
        self.servers = servers
        self.staff_keys = staff_keys
        self.residents = residents
        self.kiosks = kiosks
        self.consoles = consoles
        self.seconds = seconds
        self.pace = pace  # mean seconds between one actor's actions
        self.stats = SoakStats()
        self.deadline = 0.0
        self.online_services: list[int] = []
        self.kiosk_services: list[int] = []
        self.kiosk_ids: list[int] = []

    # -- plumbing ---------------------------------------------------------------------------

    def _base(self, i: int) -> str:
        return self.servers[i % len(self.servers)].base_url

    async def _call(
        self, client: httpx.AsyncClient, op: str, method: str, url: str, **kwargs: Any
    ) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response = await client.request(method, url, timeout=REQUEST_TIMEOUT, **kwargs)
        except httpx.HTTPError as exc:
            self.stats.transport_errors[f"{op}: {type(exc).__name__}"] += 1
            return None
        self.stats.latencies.append(time.monotonic() - started)
        self.stats.statuses[(op, response.status_code)] += 1
        return response

    async def _pause(self) -> None:
        await asyncio.sleep(random.uniform(0.5, 1.5) * self.pace)

    def _running(self) -> bool:
        return time.monotonic() < self.deadline

    # -- actors -----------------------------------------------------------------------------

    async def resident(self, i: int) -> None:
        await asyncio.sleep(random.uniform(0, 3) * self.pace)  # people do not arrive at once
        base = self._base(i)
        async with httpx.AsyncClient(base_url=base) as client:
            n = 0
            while self._running():
                n += 1
                service = random.choice(self.online_services)
                today = date.today()
                r = await self._call(
                    client,
                    "availability",
                    "GET",
                    f"/api/v1/services/{service}/availability",
                    params={"from": str(today), "to": str(today + timedelta(days=14))},
                )
                slots = r.json()["slots"] if r is not None and r.status_code == 200 else []
                if not slots:
                    await self._pause()
                    continue
                slot = random.choice(slots[:40])
                body = {
                    "service_id": service,
                    "start": slot["start"],
                    "name": f"住民 {i}-{n}",
                    "email": f"resident{i}.{n}.{random.randrange(10**9)}@example.test",
                    "locale": random.choice(["ja", "en"]),
                }
                r = await self._call(client, "book", "POST", "/api/v1/bookings", json=body)
                if r is not None and r.status_code == 201:
                    out = r.json()
                    booked = Booked(out["code"], out["token"])
                    self.stats.booked[booked.code] = booked
                    await self._call(
                        client, "read booking", "GET", f"/api/v1/bookings/{booked.token}"
                    )
                    if random.random() < 0.3:
                        c = await self._call(
                            client, "cancel", "POST", f"/api/v1/bookings/{booked.token}/cancel"
                        )
                        if c is not None and c.status_code == 200:
                            booked.cancelled = True
                await self._pause()

    async def kiosk(self, i: int) -> None:
        await asyncio.sleep(random.uniform(0, 3) * self.pace)
        kiosk_id = self.kiosk_ids[i % len(self.kiosk_ids)]
        token = kiosk_token(kiosk_id)
        async with httpx.AsyncClient(base_url=self._base(i)) as client:
            while self._running():
                service = random.choice(self.kiosk_services)
                r = await self._call(
                    client,
                    "take ticket",
                    "POST",
                    f"/api/v1/kiosk/{token}/tickets",
                    json={"service_id": service},
                )
                if r is None or r.status_code != 201:
                    await self._pause()
                    continue
                ticket = r.json()["id"]
                joined = False
                for _ in range(15):
                    await asyncio.sleep(self.pace)
                    s = await self._call(
                        client, "ticket status", "GET", f"/api/v1/kiosk/{token}/tickets/{ticket}"
                    )
                    if s is None or s.status_code != 200:
                        break
                    view = s.json()
                    if view.get("call"):
                        if await self._signal(view["call"], stay=2 * self.pace):
                            self.stats.kiosk_calls_joined += 1
                        joined = True
                        break
                    if view["status"] not in ("waiting", "offered", "ringing"):
                        break
                    if not self._running():
                        break
                if not joined:
                    await self._call(
                        client, "leave queue", "DELETE", f"/api/v1/kiosk/{token}/tickets/{ticket}"
                    )
                await self._pause()

    async def staff(self, i: int, login: str, key: str) -> None:
        await asyncio.sleep(random.uniform(0, 3) * self.pace)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=self._base(i), headers=headers) as client:
            # A console whose "available" was refused (a 503, counted as such)
            # tries again, as the page does: else one early refusal silenced a
            # staff member for the whole run and no walk-in was ever answered.
            while self._running():
                r = await self._call(
                    client,
                    "presence",
                    "PUT",
                    "/api/v1/staff/presence",
                    json={"status": "available"},
                )
                if r is not None and r.status_code == 200:
                    break
                await asyncio.sleep(self.pace)
            beat = 0.0
            while self._running():
                if time.monotonic() - beat > 5:
                    beat = time.monotonic()
                    await self._call(
                        client, "heartbeat", "POST", "/api/v1/staff/presence/heartbeat"
                    )
                r = await self._call(client, "offers", "GET", "/api/v1/staff/offers")
                offers = r.json()["offers"] if r is not None and r.status_code == 200 else []
                for offer in offers[:1]:
                    a = await self._call(
                        client, "accept", "POST", f"/api/v1/staff/offers/{offer['id']}/accept"
                    )
                    if a is None or a.status_code != 200:
                        continue
                    if await self._signal(a.json(), stay=3 * self.pace):
                        self.stats.calls_signalled += 1
                    await self._call(
                        client,
                        "finish",
                        "POST",
                        f"/api/v1/staff/counter/tickets/{offer['ticket_id']}/finish",
                    )
                    await self._call(
                        client,
                        "presence",
                        "PUT",
                        "/api/v1/staff/presence",
                        json={"status": "available"},
                    )
                await asyncio.sleep(self.pace)
            await self._call(
                client, "presence", "PUT", "/api/v1/staff/presence", json={"status": "offline"}
            )

    async def _signal(self, ticket: dict[str, Any], stay: float) -> bool:
        """Join the call room over signaling, stay a moment, leave; whether joined."""
        try:
            async with connect(ticket["signaling_url"], open_timeout=10) as ws:
                join = {"type": "join", "v": 1, "room": ticket["room"], "token": ticket["token"]}
                await ws.send(json.dumps(join))
                joined = False
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(10):
                        while not joined:
                            message = json.loads(await ws.recv())
                            if message.get("type") == "error":
                                self.stats.transport_errors[f"signal {message.get('code')}"] += 1
                                return False
                            joined = message.get("type") == "joined"
                if not joined:
                    self.stats.transport_errors["signal: no joined"] += 1
                    return False
                await asyncio.sleep(stay)
                await ws.send(json.dumps({"type": "leave"}))
                return True
        except (OSError, TimeoutError, Exception) as exc:  # a refused socket, a closed one
            self.stats.transport_errors[f"signal: {type(exc).__name__}"] += 1
            return False

    async def console(self, i: int, login: str) -> None:
        """A staff console: logged in with the password, SSE streams kept open."""
        async with httpx.AsyncClient(base_url=self._base(i)) as client:
            r = await self._call(
                client,
                "login",
                "POST",
                "/api/v1/auth/login",
                json={"login": login, "password": STAFF_PASSWORD},
            )
            if r is None or r.status_code != 200:
                return
            await asyncio.gather(
                self._stream(client, "/staff/queue/events"),
                self._stream(client, "/staff/counter/events"),
            )

    async def _stream(self, client: httpx.AsyncClient, path: str) -> None:
        while self._running():
            try:
                async with client.stream("GET", path, timeout=httpx.Timeout(30, read=60)) as r:
                    self.stats.statuses[(f"sse {path}", r.status_code)] += 1
                    if r.status_code != 200:
                        await self._pause()
                        continue
                    async for line in r.aiter_lines():
                        if line.startswith("event:"):
                            self.stats.sse_events += 1
                        if not self._running():
                            break
            except httpx.HTTPError as exc:
                self.stats.transport_errors[f"sse: {type(exc).__name__}"] += 1
                await self._pause()

    async def sample_memory(self) -> None:
        while self._running():
            for server in self.servers:
                with contextlib.suppress(OSError, AssertionError):
                    samples = self.stats.rss.setdefault(server.name, [])
                    samples.append((time.monotonic(), server.rss_bytes()))
            await asyncio.sleep(2)

    # -- the run ----------------------------------------------------------------------------

    def _discover(self) -> None:
        departments = httpx.get(self.servers[0].base_url + "/api/v1/departments").json()
        services = [s for d in departments for s in d["services"]]
        self.online_services = [s["id"] for s in services if "online" in s["channels"]]
        self.kiosk_services = [s["id"] for s in services if "kiosk" in s["channels"]]
        engine = make_engine(self.servers[0].database)
        try:
            with Session(engine) as session:
                self.kiosk_ids = list(session.scalars(select(Kiosk.id).where(Kiosk.active)))
                staff = session.scalars(select(Staff).where(Staff.login.in_(self.staff_keys)))
                skilled = {service.id for member in staff for service in member.skills}
        finally:
            engine.dispose()
        # Walk-ins for services someone of the load's staff can take: each call is answered.
        self.kiosk_services = [s for s in self.kiosk_services if s in skilled]

    async def run(self) -> SoakStats:
        self._discover()
        self.deadline = time.monotonic() + self.seconds
        logins = list(self.staff_keys)
        actors = [self.resident(i) for i in range(self.residents)]
        actors += [self.kiosk(i) for i in range(self.kiosks)]
        actors += [self.staff(i, login, self.staff_keys[login]) for i, login in enumerate(logins)]
        actors += [self.console(i, logins[i % len(logins)]) for i in range(self.consoles)]
        actors.append(self.sample_memory())
        await asyncio.gather(*actors)
        return self.stats


# -- checks after the load ------------------------------------------------------------------


def check_bookings(database_url: str, booked: dict[str, Booked]) -> tuple[list[str], ...]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Booking.code, Booking.status).where(Booking.code.in_(list(booked)))
            ).all()
            overlaps = conn.execute(
                text(
                    "SELECT a.code, b.code FROM bookings a JOIN bookings b "
                    "ON a.staff_id = b.staff_id AND a.id < b.id "
                    "AND a.start_at < b.end_at AND b.start_at < a.end_at "
                    "WHERE a.status = 'confirmed' AND b.status = 'confirmed'"
                )
            ).all()
    finally:
        engine.dispose()
    seen = Counter(code for code, _ in rows)
    missing = [c for c in booked if seen[c] == 0]
    duplicated = [c for c, n in seen.items() if n > 1]
    wrong = [
        f"{code}: {status}"
        for code, status in rows
        if status != ("cancelled" if booked[code].cancelled else "confirmed")
    ]
    return missing, duplicated, wrong, [f"{a}/{b}" for a, b in overlaps]


def outbox_state(database_url: str) -> tuple[list[int], int]:
    """Ids of the mail rows, and how many of them are not sent yet."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(OutboxMail.id, OutboxMail.sent_at).where(OutboxMail.channel == "mail")
            ).all()
    finally:
        engine.dispose()
    return [r[0] for r in rows], sum(1 for r in rows if r[1] is None)


def wait_for_outbox(database_url: str, timeout: float = 120.0) -> tuple[list[int], int]:
    deadline = time.monotonic() + timeout
    while True:
        ids, unsent = outbox_state(database_url)
        if unsent == 0 or time.monotonic() > deadline:
            return ids, unsent
        time.sleep(1)


def office_hours_zone(now: datetime | None = None) -> str:
    """A time zone in which it is now a working weekday morning (about 10:00).

    The demo city staffs its counter on weekday office hours; the soak must
    find staff at work whenever it runs, so the servers run on this zone.
    """
    now = now or datetime.now(UTC)
    for hours in sorted(range(-12, 15), key=lambda h: abs((now.hour + h) % 24 - 10)):
        local = now + timedelta(hours=hours)
        day = local.date()
        year_end = (day.month, day.day) >= (12, 29) or (day.month, day.day) <= (1, 3)
        holiday = day in holidays.country_holidays("JP", years=day.year)
        if 9 <= local.hour < 11 and day.weekday() < 5 and not year_end and not holiday:
            # Etc/GMT-9 is UTC+9: the sign is POSIX's, the opposite of ISO's.
            return f"Etc/GMT{-hours:+d}" if hours else "Etc/UTC"
    raise LookupError("no zone with a working morning now (a long holiday?)")


STAFF_LOGINS = ["sato", "suzuki", "takahashi", "kimura", "tanaka", "ito", "watanabe", "yamamoto"]


@dataclass
class SoakOutcome:
    stats: SoakStats
    seconds: float
    missing: list[str]
    duplicated: list[str]
    wrong_status: list[str]
    overlaps: list[str]
    outbox_ids: list[int]
    outbox_unsent: int
    delivered_ids: list[str]
    exit_codes: list[int]
    logs_with_traceback: list[str]
    rss_growth: dict[str, float]

    @property
    def undelivered(self) -> list[int]:
        got = set(self.delivered_ids)
        return [i for i in self.outbox_ids if f"<outbox-{i}@madoguchi>" not in got]

    @property
    def delivered_twice(self) -> list[str]:
        return [m for m, n in Counter(self.delivered_ids).items() if n > 1]

    def summary(self) -> str:
        s = self.stats
        p = sorted(s.latencies)
        p50 = p[len(p) // 2] if p else 0.0
        p99 = p[int(len(p) * 0.99)] if p else 0.0
        booked = len(s.booked)
        cancelled = sum(1 for b in s.booked.values() if b.cancelled)
        return (
            f"{self.seconds:.0f} s, {s.requests()} requests ({s.requests() / self.seconds:.1f}/s), "
            f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {max(p, default=0):.2f} s; "
            f"5xx {s.server_errors()}; bookings {booked} (cancelled {cancelled}), "
            f"409 {s.count('book', 409)}; tickets {s.count('take ticket', 201)}, "
            f"calls signalled {s.calls_signalled} (kiosk side {s.kiosk_calls_joined}); "
            f"SSE events {s.sse_events}; outbox {len(self.outbox_ids)} mails, "
            f"{self.outbox_unsent} unsent, {len(self.delivered_ids)} delivered; "
            f"RSS growth { ({k: f'{v:+.1%}' for k, v in self.rss_growth.items()}) }; "
            f"transport errors {dict(s.transport_errors)}"
        )

    def problems(self) -> list[str]:
        found = []
        if self.stats.server_errors():
            found.append(f"5xx answers: {self.stats.server_errors()}")
        for name in ("missing", "duplicated", "wrong_status", "overlaps"):
            if getattr(self, name):
                found.append(f"bookings {name}: {getattr(self, name)[:10]}")
        if self.outbox_unsent or self.undelivered:
            found.append(
                f"mail not delivered: {self.outbox_unsent} unsent, {self.undelivered[:10]}"
            )
        if self.delivered_twice:
            found.append(f"mail delivered twice: {self.delivered_twice[:10]}")
        if any(code != 0 for code in self.exit_codes):
            found.append(f"server exit codes {self.exit_codes}")
        if self.logs_with_traceback:
            found.append(f"tracebacks in {self.logs_with_traceback}")
        grown = {k: v for k, v in self.rss_growth.items() if v >= 0.10}
        if grown:
            found.append(f"memory grew after the warm-up: {grown}")
        return found


def run_soak(
    workdir: Path,
    *,
    seconds: float,
    database_url: str | None = None,
    redis_url: str | None = None,
    processes: int = 1,
    staff: int = 4,
    residents: int = 6,
    kiosks: int = 3,
    consoles: int = 2,
    pace: float = 1.0,
    warmup_share: float = 0.3,
) -> SoakOutcome:
    """Servers (``processes`` of them on one database), an SMTP sink, the load, the checks."""
    keys = {login: api_keys.new_key() for login in STAFF_LOGINS[:staff]}
    with smtp_server() as (inbox, smtp_port):
        mail_env = {
            "MADOGUCHI_SMTP_HOST": "127.0.0.1",
            "MADOGUCHI_SMTP_PORT": str(smtp_port),
            "MADOGUCHI_TIMEZONE": office_hours_zone(),
        }
        servers = [
            LiveServer(
                workdir / f"app{i}",
                database_url=database_url,
                redis_url=redis_url,
                extra_keys=keys,
                extra_env=mail_env,
                name=f"app{i}",
            )
            for i in range(processes)
        ]
        exit_codes: list[int] = []
        try:
            for server in servers:  # one after the other: the first migrates and seeds
                server.start()
            soak = Soak(
                servers,
                keys,
                residents=residents,
                kiosks=kiosks,
                consoles=consoles,
                seconds=seconds,
                pace=pace,
            )
            started = time.monotonic()
            stats = asyncio.run(soak.run())
            took = time.monotonic() - started
            database = servers[0].database
            outbox_ids, unsent = wait_for_outbox(database)
            time.sleep(1)  # the last SMTP transaction may still be closing
            delivered = inbox.message_ids()
            missing, duplicated, wrong, overlaps = check_bookings(database, stats.booked)
        finally:
            exit_codes = [server.stop() for server in servers]
    return SoakOutcome(
        stats=stats,
        seconds=took,
        missing=missing,
        duplicated=duplicated,
        wrong_status=wrong,
        overlaps=overlaps,
        outbox_ids=outbox_ids,
        outbox_unsent=unsent,
        delivered_ids=delivered,
        exit_codes=exit_codes,
        logs_with_traceback=[s.name for s in servers if "Traceback" in s.log_text()],
        rss_growth=stats.rss_growth(warmup_share),
    )
