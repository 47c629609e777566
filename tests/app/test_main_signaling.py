"""The composition root's signaling node (app.main.start_signaling / run_signaling): the
app's join tokens and the call_events table wired into signaling."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sig_helpers import SECRET, TOKENS, Client, issue
from sqlalchemy import create_engine, select

from app.calls.models import CallEventRow
from app.core.settings import Settings
from app.core.tokens import Purpose
from app.main import run_signaling, start_signaling
from signaling.errors import CloseCode, ErrorCode


async def test_start_signaling_with_a_database_records_and_refuses_ended_rooms(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    settings = Settings(secret_key=SECRET)
    server = await start_signaling(settings, engine=engine, port=0)
    try:
        resident = await Client.open(server.url)
        await resident.join("r1", issue("r1", "resident", "p1"))
        staff = await Client.open(server.url)
        await staff.join("r1", issue("r1", "staff", "s1"))
        await resident.expect("peer-joined")
        await resident.expect("room-state")
        await staff.send({"type": "end"})
        assert (await resident.expect("ended")).by == "s1"
    finally:
        await server.close()
    with engine.connect() as conn:
        kinds = list(conn.execute(select(CallEventRow.kind).order_by(CallEventRow.id)).scalars())
    assert kinds[:3] == ["join", "join", "call-end"]

    server = await start_signaling(settings, engine=engine, port=0)
    try:
        again = await Client.open(server.url)
        await again.send(
            {"type": "join", "v": 1, "room": "r1", "token": issue("r1", "resident", "p1")}
        )
        code, _ = await again.closed()
        assert code == CloseCode.ROOM_ENDED
    finally:
        await server.close()
    engine.dispose()


async def test_run_signaling_stops_when_asked() -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(run_signaling(Settings(secret_key=SECRET), stop=stop, port=0))
    stop.set()
    async with asyncio.timeout(10):
        await task


async def test_start_signaling_checks_tokens_on_the_clock_it_is_given() -> None:
    """The app passes its own clock (tests choose it): a token valid only at
    that clock's time is admitted, one valid only by the wall clock is not."""
    then = datetime.now(UTC) + timedelta(days=3650)
    server = await start_signaling(Settings(secret_key=SECRET), port=0, clock=lambda: then)
    try:
        at_then = TOKENS.issue(
            Purpose.JOIN,
            {"room": "r1", "role": "resident", "pid": "p1", "name": "t"},
            not_before=then - timedelta(hours=1),
            expires=then + timedelta(hours=1),
        )
        resident = await Client.open(server.url)
        await resident.join("r1", at_then)
        staff = await Client.open(server.url)
        await staff.send(
            {"type": "join", "v": 1, "room": "r1", "token": issue("r1", "staff", "s1")}
        )
        assert (await staff.expect("error")).code is ErrorCode.TOKEN_EXPIRED
    finally:
        await server.close()
