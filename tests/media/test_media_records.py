"""Session records of real WebRTC calls made through the real signaling server.

aiortc peers call each other through a signaling node that writes its call
events to a SQLite file; the record builder then turns those rows into the
session record. One node is killed mid-call to leave a reconstructed record.
The node, the tokens and the booking share one clock (``served_clock``), as
the app and its signaling do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from call_harness import SECRET, TIMEOUT, SignalingNode, join_token
from served_clock import city_open_clock
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.calls.models import CallEventRow
from app.core.clock import OffsetClock
from app.core.db import make_engine
from app.core.settings import Settings
from app.ops.migrate import upgrade_engine
from app.signaling_node import start_signaling
from app.tracker.record_builder import RecordBuilder
from media.client import CallClient
from media.loopback import NetworkNamespace
from scheduler.models import Booking, Department, Service, Staff

pytestmark = pytest.mark.media

ROOM = "bk-record-0001"


@pytest.fixture
def records_db(tmp_path: Path) -> Iterator[tuple[Engine, str]]:
    url = f"sqlite:///{tmp_path / 'records.db'}"
    engine = make_engine(url)
    upgrade_engine(engine)
    yield engine, url
    engine.dispose()


def seed(engine: Engine, now: datetime) -> tuple[int, int]:
    """A booking for ``ROOM`` that started five minutes ago; returns (booking, staff) ids."""
    with Session(engine) as session:
        dept = Department(slug="shimin", name_ja="市民課", name_en="Residents")
        session.add(dept)
        session.flush()
        service = Service(
            department_id=dept.id,
            slug="tennyu",
            name_ja="転入",
            name_en="Moving in",
            duration_min=30,
        )
        staff = Staff(login="s", display_name="職員")
        session.add_all([service, staff])
        session.flush()
        start = now - timedelta(minutes=5)
        booking = Booking(
            code="REC0001",
            room_id=ROOM,
            service_id=service.id,
            staff_id=staff.id,
            channel="online",
            start_at=start,
            end_at=start + timedelta(minutes=30),
            busy_start=start,
            busy_end=start + timedelta(minutes=30),
            resident_name="山田",
            locale="ja",
            created_at=start,
            updated_at=start,
        )
        session.add(booking)
        session.commit()
        return booking.id, staff.id


def events(engine: Engine) -> list[CallEventRow]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(CallEventRow).where(CallEventRow.room == ROOM).order_by(CallEventRow.id)
            )
        )


async def wait_for_kind(engine: Engine, kind: str) -> None:
    async def poll() -> None:
        # The database has no notification to wait on; poll its rows.
        while kind not in {e.kind for e in await asyncio.to_thread(events, engine)}:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), TIMEOUT)


def clients(url: str, staff_id: int, now: datetime) -> tuple[CallClient, CallClient]:
    resident = CallClient(
        url, room=ROOM, token=join_token(ROOM, "resident", "resident:REC0001", now=now)
    )
    staff = CallClient(
        url, room=ROOM, token=join_token(ROOM, "staff", f"staff:{staff_id}", now=now)
    )
    return resident, staff


def first(rows: list[CallEventRow], kind: str, role: str | None = None) -> datetime:
    return next(r.at for r in rows if r.kind == kind and (role is None or r.role == role))


def test_a_call_through_signaling_leaves_a_record_with_its_times(
    netns: NetworkNamespace, records_db: tuple[Engine, str]
) -> None:
    engine, _ = records_db
    clock = city_open_clock()
    booking_id, staff_id = seed(engine, clock.now())

    async def scenario() -> None:
        server = await start_signaling(
            Settings(mode="demo", secret_key=SECRET),
            engine=engine,
            host="127.0.0.1",
            port=0,
            clock=clock.now,
        )
        r, s = clients(server.url, staff_id, clock.now())
        try:
            await r.start()
            await s.start()
            await asyncio.wait_for(r.wait_connected(f"staff:{staff_id}"), TIMEOUT)
            await asyncio.wait_for(s.wait_connected("resident:REC0001"), TIMEOUT)
            await wait_for_kind(engine, "call-start")
            await s.end()
            await asyncio.wait_for(r.wait_until(lambda: r.ended), TIMEOUT)
        finally:
            await r.close()
            await s.close()
            await server.close()

    netns.run(scenario)
    rows = events(engine)
    with Session(engine) as session:
        booking = session.get(Booking, booking_id)
        assert booking is not None
        record = RecordBuilder(session).sync_booking(booking, clock.now())
        assert record.closed and not record.reconstructed and not record.no_show
        assert record.queued_at == first(rows, "join", "resident")
        assert record.answered_at == first(rows, "join", "staff")
        assert record.connected_at == first(rows, "call-start")
        assert record.ended_at == first(rows, "call-end")
        assert record.queued_at <= record.answered_at <= record.connected_at <= record.ended_at
        assert record.wait_seconds == int((record.answered_at - record.queued_at).total_seconds())
        assert record.talk_seconds == int((record.ended_at - record.connected_at).total_seconds())
        assert [(g.staff_id, g.left_at) for g in record.segments] == [(staff_id, record.ended_at)]


def test_a_node_killed_mid_call_leaves_a_reconstructed_record(
    netns: NetworkNamespace, records_db: tuple[Engine, str]
) -> None:
    engine, url = records_db
    clock: OffsetClock = city_open_clock()
    booking_id, staff_id = seed(engine, clock.now())

    async def scenario() -> None:
        node = await SignalingNode.start(netns, "n1", database_url=url, clock=clock)
        r, s = clients(node.url, staff_id, clock.now())
        try:
            await r.start()
            await s.start()
            await asyncio.wait_for(s.wait_connected("resident:REC0001"), TIMEOUT)
            await wait_for_kind(engine, "call-start")
            node.process.kill()
            await asyncio.wait_for(node.process.proc.wait(), TIMEOUT)
        finally:
            await r.close()
            await s.close()
            await node.process.stop()

    netns.run(scenario)
    rows = events(engine)
    assert "call-end" not in {e.kind for e in rows}
    last = rows[-1].at
    with Session(engine) as session:
        booking = session.get(Booking, booking_id)
        assert booking is not None
        builder = RecordBuilder(session)
        record = builder.sync_booking(booking, last + timedelta(minutes=1))
        assert not record.closed and record.ended_at is None
        later = max(last + timedelta(minutes=31), booking.end_at + timedelta(minutes=11))
        record = builder.sync_booking(booking, later)
        assert record.closed and record.reconstructed
        assert record.ended_at == last
        assert record.connected_at == first(rows, "call-start")
        assert record.segments[0].staff_id == staff_id and record.segments[0].left_at == last
