"""Two real ``madoguchi serve`` processes on one PostgreSQL database share one rush queue.

Residents arrive at either process at once; numbers come out distinct and
gap-free, admission follows them whichever process took the step, a place
taken at one process is watched and booked at the other, and an admission
books once across both.
"""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from server_helpers import DEADLINE, App
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from app.rush.models import RushTicket
from scheduler.models import Service

ARRIVALS = 16


def admitted_in_order(engine: Engine, service_id: int) -> list[int]:
    """The admitted numbers, checked to be a prefix admitted in number order."""
    with Session(engine) as s:
        rows = s.execute(
            select(RushTicket.number, RushTicket.admitted_at)
            .where(RushTicket.service_id == service_id)
            .order_by(RushTicket.number)
        ).all()
    admitted = [n for n, at in rows if at is not None]
    assert admitted == list(range(1, len(admitted) + 1))
    times = [at for _, at in rows if at is not None]
    assert times == sorted(times)
    return admitted


@pytest.mark.slow
@pytest.mark.parametrize(
    "engine", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_two_app_processes_share_one_fair_queue(city_engine: tuple[Engine, Any]) -> None:
    engine, city = city_engine
    with Session(engine) as s:
        s.execute(update(Service).where(Service.id == city.consult_id).values(rush=True))
        s.commit()
    url = engine.url.render_as_string(hide_password=False)
    apps = [App(url), App(url)]
    for app in apps:
        app.env["MADOGUCHI_RUSH_ADMISSIONS_PER_SECOND"] = "4"
    try:
        for app in apps:
            app.start()
        service = city.consult_id
        tickets: list[dict[str, Any]] = []
        lock = threading.Lock()
        gate = threading.Barrier(ARRIVALS)

        def arrive(n: int) -> None:
            base = apps[n % 2].base
            gate.wait()
            r = httpx.post(f"{base}/api/v1/rush/services/{service}/tickets", timeout=DEADLINE)
            assert r.status_code == 201, r.text
            with lock:
                tickets.append(r.json())

        threads = [threading.Thread(target=arrive, args=(n,)) for n in range(ARRIVALS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(DEADLINE)
        assert sorted(t["number"] for t in tickets) == list(range(1, ARRIVALS + 1))

        # Every place is watched at the process that did not issue it; both
        # processes take admission steps, and the admitted stay a prefix.
        by_number = {t["number"]: t for t in tickets}
        states: dict[int, dict[str, Any]] = {}
        deadline = time.monotonic() + DEADLINE
        while len(states) < ARRIVALS:
            assert time.monotonic() < deadline, f"admitted so far: {sorted(states)}"
            for number, ticket in by_number.items():
                if number in states:
                    continue
                base = apps[number % 2].base
                place = httpx.get(f"{base}/api/v1/rush/tickets/{ticket['ticket']}").json()
                assert place["state"] in ("waiting", "admitted"), place
                if place["state"] == "admitted":
                    states[number] = place
            admitted_in_order(engine, service)
            time.sleep(0.1)

        # Admitted at one process, booked at the other, once.
        first = states[1]
        today = date.today()
        slots = httpx.get(
            f"{apps[1].base}/api/v1/services/{service}/availability",
            params={"from": today.isoformat(), "to": (today + timedelta(days=14)).isoformat()},
        ).json()["slots"]
        body = {
            "service_id": service,
            "start": slots[0]["start"],
            "channel": "online",
            "name": "二重 防止",
            "email": "twice@example.jp",
        }
        r = httpx.post(f"{apps[0].base}/api/v1/bookings", json=body)
        assert r.status_code == 429 and r.json()["error"]["code"] == "admission-required"
        admission = {"X-Rush-Admission": first["admission"]}
        r = httpx.post(f"{apps[1].base}/api/v1/bookings", json=body, headers=admission)
        assert r.status_code == 201, r.text
        body["start"] = slots[1]["start"]
        r = httpx.post(f"{apps[0].base}/api/v1/bookings", json=body, headers=admission)
        assert r.status_code == 409 and r.json()["error"]["code"] == "admission-used"
        # The waiting page at the other process knows the place was spent.
        page = httpx.get(f"{apps[0].base}/rush/wait/{by_number[1]['ticket']}")
        assert page.status_code == 200 and "この順番ですでに予約が済んでいます" in page.text
    finally:
        for app in apps:
            app.close()
