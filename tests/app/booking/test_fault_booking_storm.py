"""Fault test: the app is restarted during a booking storm (real ``madoguchi serve``).

Client threads book over HTTP with an ``Idempotency-Key`` each and retry the
same request on connection errors and 5xx, as the API documents. Half-way
the app process is stopped (SIGTERM: graceful, in-flight requests finish; or
SIGKILL: a crash) and started again on the same port. Afterwards: every
request that was answered 201 has exactly one booking, none was booked twice,
every other request got a 409 and booked nothing, and no staff member is
booked twice at the same time.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from server_helpers import DEADLINE, App
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from scheduler.models import Booking, BookingStatus

ROOT = Path(__file__).resolve().parents[3]
CLIENTS = 8
REQUESTS_PER_CLIENT = 6
SLOTS = 5  # at most three staff each: 48 requests for at most 15 seats, so many 409s


class Storm:
    def __init__(self, base: str, service_id: int, starts: list[str]) -> None:
        self.base, self.service_id, self.starts = base, service_id, starts
        self.results: dict[str, tuple[int, str | None]] = {}  # key -> (status, code)
        self.retries = 0
        self.start_of: dict[str, str] = {}
        self.lock = threading.Lock()

    def book_until_answered(self, http: httpx.Client, key: str, start: str) -> None:
        body = {
            "service_id": self.service_id,
            "start": start,
            "channel": "online",
            "name": f"嵐 {key}",
            "email": f"{key}@example.jp",
        }
        self.start_of[key] = start
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            try:
                r = http.post(
                    self.base + "/api/v1/bookings", json=body, headers={"Idempotency-Key": key}
                )
            except httpx.TransportError:
                r = None
            if r is not None and r.status_code in (201, 409):
                code = r.json()["code"] if r.status_code == 201 else None
                with self.lock:
                    self.results[key] = (r.status_code, code)
                return
            with self.lock:
                self.retries += 1
            time.sleep(0.05)
        raise AssertionError(f"{key}: never answered")

    def client(self, n: int) -> None:
        with httpx.Client(timeout=30, trust_env=False) as http:
            for i in range(REQUESTS_PER_CLIENT):
                self.book_until_answered(
                    http, f"storm-{n:02d}-{i:02d}", self.starts[(n + i) % len(self.starts)]
                )

    def answered(self) -> int:
        with self.lock:
            return len(self.results)


@pytest.mark.parametrize(
    "engine", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_restart_during_a_booking_storm_loses_and_doubles_nothing(
    city_engine: tuple[Engine, object], how: signal.Signals
) -> None:
    engine, city = city_engine
    app = App(engine.url.render_as_string(hide_password=False))
    try:
        app.start()
        today = time.strftime("%Y-%m-%d")
        last = time.strftime(
            "%Y-%m-%d", time.localtime(time.time() + timedelta(days=14).total_seconds())
        )
        slots = httpx.get(
            f"{app.base}/api/v1/services/{city.consult_id}/availability",  # type: ignore[attr-defined]
            params={"from": today, "to": last},
        ).json()["slots"]
        assert len(slots) >= SLOTS
        storm = Storm(app.base, city.consult_id, [s["start"] for s in slots[:SLOTS]])  # type: ignore[attr-defined]
        threads = [threading.Thread(target=storm.client, args=(n,)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + DEADLINE
        while storm.answered() < CLIENTS * REQUESTS_PER_CLIENT // 3:
            assert time.monotonic() < deadline, "the storm made no progress"
            time.sleep(0.02)
        app.stop(how)
        app.start()
        for t in threads:
            t.join(DEADLINE)
        assert all(not t.is_alive() for t in threads)
        free_after = {
            s["start"]
            for s in httpx.get(
                f"{app.base}/api/v1/services/{city.consult_id}/availability",  # type: ignore[attr-defined]
                params={"from": today, "to": last},
            ).json()["slots"]
        }
    finally:
        app.close()

    results = storm.results
    assert len(results) == CLIENTS * REQUESTS_PER_CLIENT  # every request got its answer
    with Session(engine) as s:
        booked = s.execute(
            select(Booking.resident_name, Booking.code).where(
                Booking.status == BookingStatus.CONFIRMED
            )
        ).all()
        overlaps = s.scalar(
            text(
                "SELECT count(*) FROM bookings a JOIN bookings b ON a.staff_id = b.staff_id"
                " AND a.id < b.id AND a.busy_start < b.busy_end AND b.busy_start < a.busy_end"
                " WHERE a.status = 'confirmed' AND b.status = 'confirmed'"
            )
        )
    per_key = Counter(name.removeprefix("嵐 ") for name, _ in booked)
    assert max(per_key.values()) == 1  # nothing booked twice
    won = {k: code for k, (status, code) in results.items() if status == 201}
    assert {name.removeprefix("嵐 "): code for name, code in booked} == won  # nothing lost
    refused_starts = {storm.start_of[k] for k, (status, _) in results.items() if status == 409}
    assert refused_starts and not refused_starts & free_after  # every 409 was a full slot
    assert overlaps == 0
    print(
        f"storm ({how.name}): {len(won)} booked, {len(results) - len(won)} refused, "
        f"{storm.retries} retries across the restart"
    )
