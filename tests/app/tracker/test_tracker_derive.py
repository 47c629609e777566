"""The pure derivation of a call's times, segments, no-show and reconstruction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.calls.staff_queue import EventView
from app.tracker.derive import derive_call, staff_id_of

T0 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
SLOT_END = T0 + timedelta(minutes=30)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ev(kind: str, minutes: float, pid: str | None = None, role: str | None = None) -> EventView:
    return EventView(kind, at(minutes), pid, role)


def test_a_complete_call_has_its_times_and_durations() -> None:
    events = [
        ev("join", -2, "resident:AB", "resident"),
        ev("join", 1, "staff:3", "staff"),
        ev("call-start", 1.5),
        ev("call-end", 21.5, "staff:3", "staff"),
    ]
    d = derive_call(events, slot_end=SLOT_END, now=at(22))
    assert (d.queued_at, d.answered_at, d.connected_at, d.ended_at) == (
        at(-2),
        at(1),
        at(1.5),
        at(21.5),
    )
    assert d.wait_seconds == 180 and d.talk_seconds == 1200
    assert d.closed and not d.no_show and not d.reconstructed
    assert [(s.participant, s.joined_at, s.left_at) for s in d.segments] == [
        ("staff:3", at(1), at(21.5))
    ]


def test_a_hand_over_gives_two_segments_and_a_reconnect_does_not() -> None:
    events = [
        ev("join", 0, "resident:AB", "resident"),
        ev("join", 1, "staff:3", "staff"),
        ev("call-start", 1.2),
        ev("leave", 5, "staff:3", "staff"),
        ev("resumed", 5.5, "staff:3", "staff"),  # dropped Wi-Fi, same person
        ev("leave", 10, "staff:3", "staff"),
        ev("join", 11, "staff:8", "staff"),
        ev("call-end", 20, "staff:8", "staff"),
    ]
    d = derive_call(events, slot_end=SLOT_END, now=at(21))
    assert [(s.participant, s.joined_at, s.left_at) for s in d.segments] == [
        ("staff:3", at(1), at(10)),
        ("staff:8", at(11), at(20)),
    ]
    assert [staff_id_of(s.participant) for s in d.segments] == [3, 8]


def test_no_show_only_after_slot_end_and_grace() -> None:
    staff_only = [ev("join", 0, "staff:3", "staff")]
    assert not derive_call(staff_only, slot_end=SLOT_END, now=at(39)).no_show
    late = derive_call(staff_only, slot_end=SLOT_END, now=at(40))
    assert late.no_show and late.closed and late.queued_at is None


def test_a_resident_who_came_is_not_a_no_show() -> None:
    events = [ev("join", 35, "resident:AB", "resident")]
    d = derive_call(events, slot_end=SLOT_END, now=at(41))
    assert not d.no_show and not d.closed


def test_a_call_cut_by_a_restart_is_closed_from_its_last_event() -> None:
    events = [
        ev("join", 0, "resident:AB", "resident"),
        ev("join", 1, "staff:3", "staff"),
        ev("call-start", 2),
        ev("resumed", 12, "resident:AB", "resident"),  # last thing the old server wrote
    ]
    running = derive_call(events, slot_end=SLOT_END, now=at(30))
    assert not running.closed and running.ended_at is None
    d = derive_call(events, slot_end=SLOT_END, now=at(12 + 30))
    assert d.closed and d.reconstructed and d.ended_at == at(12)
    assert d.talk_seconds == 600
    assert d.segments[-1].left_at == at(12)


def test_everyone_leaving_without_end_is_closed_but_not_reconstructed() -> None:
    events = [
        ev("join", 0, "resident:AB", "resident"),
        ev("join", 1, "staff:3", "staff"),
        ev("call-start", 2),
        ev("leave", 9, "resident:AB", "resident"),
        ev("leave", 10, "staff:3", "staff"),
    ]
    d = derive_call(events, slot_end=SLOT_END, now=at(41))
    assert d.closed and not d.reconstructed and d.ended_at == at(10)
