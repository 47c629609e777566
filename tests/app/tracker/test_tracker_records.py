"""Session records built from stored call events, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from tracker_helpers import NOW, MiniCity, add_event, make_booking

from app.calls.consultations import Consultations
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
