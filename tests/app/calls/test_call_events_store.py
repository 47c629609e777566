"""Call events written to a real database (SQLite file) by a real server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sig_helpers import Client, issue, make_server, pair
from sqlalchemy import Engine, create_engine, select

from app.calls.events import SqlEventSink, ensure_table
from app.calls.models import CallEventRow
from signaling.errors import CloseCode
from signaling.events import CallEvent, EventKind
from signaling.messages import Role

ROOM = "room-1"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = create_engine(f"sqlite:///{tmp_path / 'events.db'}")
    ensure_table(eng)
    yield eng
    eng.dispose()


def kinds(engine: Engine, room: str) -> list[str]:
    with engine.connect() as conn:
        stmt = select(CallEventRow.kind).where(CallEventRow.room == room).order_by(CallEventRow.id)
        return list(conn.execute(stmt).scalars())


async def test_record_flush_and_load_ended_rooms(engine: Engine) -> None:
    sink = SqlEventSink(engine)
    at = datetime(2026, 1, 6, 1, 0, tzinfo=UTC)
    sink.record(CallEvent("r1", EventKind.JOIN, at, "n1", "p1", Role.RESIDENT))
    sink.record(CallEvent("r1", EventKind.CALL_END, at, "n1", "s1", Role.STAFF, {"x": "y"}))
    sink.record(CallEvent("r2", EventKind.JOIN, at, "n1", "p2", Role.KIOSK))
    await sink.flush()
    assert kinds(engine, "r1") == ["join", "call-end"]
    with engine.connect() as conn:
        row = conn.execute(select(CallEventRow).where(CallEventRow.kind == "call-end")).one()
    assert row.at == at and row.detail == {"x": "y"} and row.role == "staff"
    assert await SqlEventSink(engine).ended_rooms() == {"r1"}
    # Only rooms ended since a moment are loaded at start-up (CoreConfig.ended_memory).
    assert await SqlEventSink(engine).ended_rooms(since=at) == {"r1"}
    assert await SqlEventSink(engine).ended_rooms(since=at + timedelta(seconds=1)) == set()
    await sink.close()


async def test_call_end_is_durable_before_ended_is_sent_and_survives_restart(
    engine: Engine,
) -> None:
    sink = SqlEventSink(engine)
    async with make_server(sink=sink) as server:
        resident, staff = await pair(server.url, ROOM)
        await staff.send({"type": "end"})
        assert (await resident.expect("ended")).by == f"{ROOM}-staff"
        # The client was told; the row must already be committed.
        assert "call-end" in kinds(engine, ROOM)
    await sink.close()

    restarted_sink = SqlEventSink(engine)
    ended = await restarted_sink.ended_rooms()
    async with make_server(sink=restarted_sink, ended_rooms=ended) as server:
        again = await Client.open(server.url)
        token = issue(ROOM, "resident", f"{ROOM}-res")
        await again.send({"type": "join", "v": 1, "room": ROOM, "token": token})
        code, _ = await again.closed()
        assert code == CloseCode.ROOM_ENDED
    await restarted_sink.close()
    assert kinds(engine, ROOM)[:2] == ["join", "join"]
