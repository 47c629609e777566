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
from signaling.errors import CloseCode


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


async def test_the_node_checks_pushed_links_with_the_app_key_and_limits_from_settings() -> None:
    settings = Settings(
        secret_key=SECRET, rate_limit_exempt_ips=[], signaling_unjoined_per_address=2
    )
    server = await start_signaling(settings, port=0)
    try:
        resident = await Client.open(server.url)
        await resident.join("r1", issue("r1", "resident", "p1"))
        staff = await Client.open(server.url)
        await staff.join("r1", issue("r1", "staff", "s1"))
        await resident.expect("peer-joined")
        await resident.expect("room-state")
        # A well-formed link whose token is not a document token of ours.
        forged = f"/api/v1/documents/{issue('r1', 'staff', 's1')}"
        await staff.send({"type": "document", "url": forged, "name": "x"})
        assert (await staff.expect("error")).code == "invalid-message"
        token = TOKENS.issue(Purpose.DOCUMENT, {"d": 1}, expires=datetime.now(UTC) + timedelta(1))
        await staff.send({"type": "document", "url": f"/api/v1/documents/{token}", "name": "x"})
        assert (await resident.expect("document")).url == f"/api/v1/documents/{token}"

        idle = [await Client.open(server.url) for _ in range(2)]
        third = await Client.open(server.url)
        assert await third.close_reason() == (CloseCode.TRY_AGAIN_LATER, "too-many-unjoined")
        for client in (resident, staff, *idle):
            await client.close()
    finally:
        await server.close()
