"""Session records built from stored call events, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from tracker_helpers import NOW, MiniCity, add_event, make_booking

from app.calls.consultations import Consultations
from app.core.context import AppContext
from app.counter.models import QueueTicket
from app.tracker import jobs as tracker_jobs
from app.tracker.models import SessionRecord
from app.tracker.record_builder import RecordBuilder
from scheduler.models import Booking, Staff


def test_records_follow_events_transfer_and_staff_input(
    city_engine: tuple[Engine, MiniCity],
) -> None:
    engine, city = city_engine
    start = NOW + timedelta(hours=1)
    with Session(engine) as session:
        b = make_booking(session, city.consult_id, city.staff_ids[0], start, kiosk_id=city.kiosk_id)
        room = b.room_id
        s1, s2 = (f"staff:{i}" for i in city.staff_ids[:2])
        add_event(session, room, "join", start - timedelta(minutes=2), "kiosk:1", "kiosk")
        add_event(session, room, "join", start + timedelta(minutes=1), s1, "staff")
        add_event(session, room, "call-start", start + timedelta(minutes=2))
        add_event(session, room, "leave", start + timedelta(minutes=8), s1, "staff")
        add_event(session, room, "join", start + timedelta(minutes=9), s2, "staff")
        builder = RecordBuilder(session)
        # While the call runs the record is open and has no end.
        assert builder.sync_due(start + timedelta(minutes=10)) == 1
        record = builder.for_booking(b.id)
        assert record is not None and not record.closed and record.ended_at is None
        add_event(session, room, "call-end", start + timedelta(minutes=20), s2, "staff")
        builder.sync_due(start + timedelta(minutes=21))
        session.commit()

    with Session(engine) as session:
        record = session.query(SessionRecord).one()
        assert record.kind == "booking" and record.channel == "kiosk"
        assert record.branch_id is not None and record.department_id == city.dept_id
        assert record.queued_at == start - timedelta(minutes=2)
        assert record.answered_at == start + timedelta(minutes=1)
        assert record.connected_at == start + timedelta(minutes=2)
        assert record.ended_at == start + timedelta(minutes=20)
        assert (record.wait_seconds, record.talk_seconds) == (180, 18 * 60)
        assert record.closed and not record.reconstructed and not record.no_show
        assert [(s.staff_id, s.joined_at, s.left_at) for s in record.segments] == [
            (city.staff_ids[0], start + timedelta(minutes=1), start + timedelta(minutes=8)),
            (city.staff_ids[1], start + timedelta(minutes=9), start + timedelta(minutes=20)),
        ]
        # Closed records are left alone until staff change the consultation.
        assert RecordBuilder(session).sync_due(start + timedelta(minutes=22)) == 0
        booking = record.booking_id
        staff = session.get(Staff, city.staff_ids[1])
        assert staff is not None and booking is not None
        b2 = session.get(Booking, booking)
        assert b2 is not None
        Consultations(session).save_notes(
            b2, staff, "転入届\n書類あり", start + timedelta(minutes=30)
        )
        Consultations(session).set_outcome(b2, staff, "completed", start + timedelta(minutes=30))
        assert RecordBuilder(session).sync_due(start + timedelta(minutes=31)) == 1
        assert record.notes == "転入届\n書類あり" and record.outcome == "completed"
        session.commit()


def test_no_show_is_detected_after_the_grace(city_engine: tuple[Engine, MiniCity]) -> None:
    engine, city = city_engine
    start = NOW + timedelta(hours=1)
    with Session(engine) as session:
        b = make_booking(session, city.consult_id, city.staff_ids[0], start)
        add_event(session, b.room_id, "join", start, f"staff:{city.staff_ids[0]}", "staff")
        builder = RecordBuilder(session)
        builder.sync_due(start + timedelta(minutes=39))
        record = builder.for_booking(b.id)
        assert record is not None and not record.no_show and not record.closed
        builder.sync_due(start + timedelta(minutes=40))
        assert record.no_show and record.closed and record.outcome == "no-show"
        assert record.channel == "home" and record.queued_at is None


def test_a_call_cut_by_a_restart_leaves_a_reconstructed_record(
    city_engine: tuple[Engine, MiniCity],
) -> None:
    engine, city = city_engine
    start = NOW + timedelta(hours=1)
    with Session(engine) as session:
        b = make_booking(session, city.consult_id, city.staff_ids[0], start)
        room = b.room_id
        add_event(session, room, "join", start, "resident:X", "resident")
        add_event(
            session,
            room,
            "join",
            start + timedelta(minutes=1),
            f"staff:{city.staff_ids[0]}",
            "staff",
        )
        add_event(session, room, "call-start", start + timedelta(minutes=1))
        last = start + timedelta(minutes=14)
        add_event(session, room, "reconnecting", last, "resident:X", "resident")
        builder = RecordBuilder(session)
        builder.sync_due(last + timedelta(minutes=29))
        record = builder.for_booking(b.id)
        assert record is not None and not record.closed
        builder.sync_due(last + timedelta(minutes=30))
        assert record.closed and record.reconstructed and record.ended_at == last
        assert record.talk_seconds == 13 * 60
        assert record.segments[0].left_at == last


def test_a_walk_in_at_a_kiosk_has_a_record_without_a_booking(
    city_engine: tuple[Engine, MiniCity],
) -> None:
    engine, city = city_engine
    start = NOW + timedelta(hours=1)
    with Session(engine) as session:
        room = "walk-in-kita-1"
        add_event(session, room, "join", start, "kiosk:1", "kiosk")
        add_event(
            session,
            room,
            "join",
            start + timedelta(minutes=4),
            f"staff:{city.staff_ids[2]}",
            "staff",
        )
        add_event(session, room, "call-start", start + timedelta(minutes=4))
        add_event(
            session,
            room,
            "call-end",
            start + timedelta(minutes=9),
            f"staff:{city.staff_ids[2]}",
            "staff",
        )
        record = RecordBuilder(session).sync_walk_in(
            room, service_id=city.consult_id, kiosk_id=city.kiosk_id, started_at=start,
            now=start + timedelta(minutes=10),
        )  # fmt: skip
        assert (record.kind, record.channel, record.booking_id) == ("walk-in", "kiosk", None)
        assert record.wait_seconds == 240 and record.talk_seconds == 300 and record.closed
        assert not record.no_show


def test_a_read_only_pass_finds_just_the_records_a_sync_would_change(
    city_engine: tuple[Engine, MiniCity],
) -> None:
    # The jobs loop decides with stale() outside any write transaction and writes
    # only what it lists: an open record that would come out the same is left alone.
    engine, city = city_engine
    start = NOW + timedelta(hours=1)
    with Session(engine) as session:
        quiet = make_booking(session, city.consult_id, city.staff_ids[0], start)
        busy = make_booking(
            session, city.consult_id, city.staff_ids[1], start, kiosk_id=city.kiosk_id
        )
        staff = f"staff:{city.staff_ids[1]}"
        add_event(session, busy.room_id, "join", start, "kiosk:1", "kiosk")
        add_event(session, busy.room_id, "join", start + timedelta(minutes=1), staff, "staff")
        now = start + timedelta(minutes=5)
        builder = RecordBuilder(session)
        # No record yet: both are stale.
        assert sorted(builder.stale(now).bookings) == sorted([quiet.id, busy.id])
        assert builder.sync_due(now) == 2
        session.commit()
        # Synced and nothing new: nothing to write, though both records are open.
        assert builder.stale(now).bookings == []
        assert builder.stale(now + timedelta(minutes=1)).bookings == []
        add_event(session, busy.room_id, "call-start", start + timedelta(minutes=6))
        assert builder.stale(now + timedelta(minutes=7)).bookings == [busy.id]
        # The quiet one turns into a no-show after the grace: a change, so stale.
        later = start + timedelta(minutes=40)
        assert quiet.id in builder.stale(later).bookings
        staff_obj = session.get(Staff, city.staff_ids[1])
        assert staff_obj is not None
        builder.sync_due(now + timedelta(minutes=7))
        session.commit()
        assert builder.stale(now + timedelta(minutes=7)).bookings == []
        # Staff notes are an input too.
        Consultations(session).save_notes(busy, staff_obj, "相談メモ", now + timedelta(minutes=8))
        assert builder.stale(now + timedelta(minutes=9)).bookings == [busy.id]


def test_a_walk_in_record_is_stale_until_synced_and_then_quiet(
    city_engine: tuple[Engine, MiniCity],
) -> None:
    engine, city = city_engine
    start = NOW + timedelta(hours=1)
    with Session(engine) as session:
        ticket = make_walk_in_ticket(session, city, start)
        add_event(session, ticket.room_id, "join", start, "kiosk:1", "kiosk")
        staff = f"staff:{city.staff_ids[2]}"
        add_event(session, ticket.room_id, "join", start + timedelta(minutes=3), staff, "staff")
        builder = RecordBuilder(session)
        now = start + timedelta(minutes=4)
        assert builder.stale(now).tickets == [ticket.id]
        assert builder.sync_walk_ins(now) == 1
        session.commit()
        assert builder.stale(now).tickets == []
        add_event(session, ticket.room_id, "call-end", start + timedelta(minutes=9), staff, "staff")
        assert builder.stale(start + timedelta(minutes=10)).tickets == [ticket.id]


def make_walk_in_ticket(session: Session, city: MiniCity, at: datetime) -> QueueTicket:
    ticket = QueueTicket(
        day=at.date(),
        number=1,
        kiosk_id=city.kiosk_id,
        service_id=city.consult_id,
        priority=0,
        room_id="walk-in-stale-1",
        status="accepted",
        queued_at=at - timedelta(minutes=2),
        staff_id=city.staff_ids[2],
        accepted_at=at + timedelta(minutes=3),
        refused_by=[],
    )
    session.add(ticket)
    session.flush()
    return ticket


def test_two_processes_creating_one_walk_in_record_leave_one_and_no_error(
    ctx: AppContext, city: MiniCity, caplog: pytest.LogCaptureFixture
) -> None:
    """Another app process's jobs loop inserts the record while this one is about to."""
    engine = ctx.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: the second reads the first's record")
    start = NOW - timedelta(minutes=10)
    with Session(engine) as session:
        ticket = make_walk_in_ticket(session, city, start)
        add_event(session, ticket.room_id, "join", start, "kiosk:1", "kiosk")
        staff = f"staff:{city.staff_ids[2]}"
        add_event(session, ticket.room_id, "join", start + timedelta(minutes=3), staff, "staff")
        session.commit()
        room = ticket.room_id
    caplog.set_level(logging.INFO, logger="app.tracker.jobs")
    with Session(engine) as other:
        # The other process's insert, flushed but not committed: ours waits on it.
        assert RecordBuilder(other).sync_walk_ins(NOW) == 1
        other.flush()
        with ThreadPoolExecutor(1) as pool:
            ours = pool.submit(tracker_jobs.run_once, ctx)
            time.sleep(1.0)
            assert not ours.done()  # blocked on the unique index
            other.commit()
            ours.result(timeout=30)  # no exception
    with Session(engine) as session:
        records = session.scalars(select(SessionRecord).where(SessionRecord.room == room)).all()
        assert len(records) == 1
    assert any("another process wrote this batch first" in r.getMessage() for r in caplog.records)
