"""Graceful shutdown of ``madoguchi serve`` on SIGTERM (real process, PostgreSQL).

A booking request is held in flight by a table lock the test takes; SIGTERM
arrives; the app stops accepting connections but finishes that request (201,
the booking committed), tells the embedded signaling clients to reconnect
elsewhere (close code 1012), and exits with status 0.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from server_helpers import DEADLINE, App  # type: ignore[import-not-found]
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.core.tokens import Purpose, Tokens
from scheduler.models import Booking
from signaling.errors import CloseCode


def wait_until(what: str, check: object) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


async def joined_socket(app: App) -> object:
    now = datetime.now(UTC)
    token = Tokens(app.env["MADOGUCHI_SECRET_KEY"]).issue(
        Purpose.JOIN,
        {"room": "bk-graceful", "role": "resident", "pid": "r-1", "name": "t"},
        not_before=now - timedelta(minutes=1),
        expires=now + timedelta(hours=1),
    )
    ws = await connect(f"ws://127.0.0.1:{app.env['MADOGUCHI_SIGNALING_PORT']}/ws")
    await ws.send(json.dumps({"type": "join", "v": 1, "room": "bk-graceful", "token": token}))
    assert json.loads(await ws.recv())["type"] == "joined"
    return ws


@pytest.mark.parametrize(
    "engine", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_sigterm_finishes_the_request_in_flight_and_drains_signaling(
    city_engine: tuple[Engine, object],
) -> None:
    engine, city = city_engine
    url = engine.url.render_as_string(hide_password=False)
    app = App(url)
    loop = asyncio.new_event_loop()
    try:
        app.start()
        ws = loop.run_until_complete(joined_socket(app))
        today = time.strftime("%Y-%m-%d")
        slot = httpx.get(
            f"{app.base}/api/v1/services/{city.consult_id}/availability",  # type: ignore[attr-defined]
            params={
                "from": today,
                "to": time.strftime("%Y-%m-%d", time.localtime(time.time() + 14 * 86400)),
            },
        ).json()["slots"][0]["start"]
        answer: list[httpx.Response] = []
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as locker:
            locker.execute("LOCK TABLE idempotency_keys IN ACCESS EXCLUSIVE MODE")

            def request() -> None:
                answer.append(
                    httpx.post(
                        app.base + "/api/v1/bookings",
                        json={
                            "service_id": city.consult_id,  # type: ignore[attr-defined]
                            "start": slot,
                            "channel": "online",
                            "name": "処理中",
                            "email": "inflight@example.jp",
                        },
                        headers={"Idempotency-Key": "graceful-0001"},
                        timeout=DEADLINE,
                    )
                )

            thread = threading.Thread(target=request)
            thread.start()

            def request_waits_on_the_lock() -> bool:
                with psycopg.connect(dsn) as probe:
                    row = probe.execute(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    ).fetchone()
                return bool(row and row[0] > 0)

            wait_until("the booking request to wait on the lock", request_waits_on_the_lock)
            assert app.proc is not None
            app.proc.send_signal(signal.SIGTERM)

            def refuses_new_connections() -> bool:
                try:
                    httpx.get(app.base + "/healthz", timeout=1)
                except httpx.TransportError:
                    return True
                return False

            wait_until("the app to stop accepting connections", refuses_new_connections)
            assert not answer  # still in flight
            locker.rollback()  # release the lock
        thread.join(DEADLINE)
        assert [r.status_code for r in answer] == [201], answer and answer[0].text

        async def close_code() -> int | None:
            try:
                async with asyncio.timeout(DEADLINE):
                    while True:
                        await ws.recv()  # type: ignore[attr-defined]
            except ConnectionClosed as exc:
                return exc.rcvd.code if exc.rcvd else None

        assert loop.run_until_complete(close_code()) == CloseCode.SERVICE_RESTART
        assert app.proc.wait(DEADLINE) == 0
    finally:
        loop.close()
        app.close()
    with Session(engine) as s:
        assert (
            s.scalar(select(func.count(Booking.id)).where(Booking.resident_name == "処理中")) == 1
        )
