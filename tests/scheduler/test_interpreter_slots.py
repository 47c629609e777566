"""Interpreters as a resource: slots need a free interpreter; on-demand look-up."""

from __future__ import annotations

import dataclasses
from datetime import datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_slots import (
    DEPARTMENT,
    MONDAY,
    STAFF_HOURS,
    TOKYO,
    at,
    query,
    slot_queries,
    time_ranges,
    times,
)

from scheduler.calendar import closed_dates, open_windows
from scheduler.interpreters import free_interpreters
from scheduler.slots import SlotQuery, compute_slots
from scheduler.types import Hours, InterpreterSpec, TimeRange, WeeklyWindow

MORNINGS = Hours(weekly=tuple(WeeklyWindow(d, time(9), time(12)) for d in range(5)))


def interpreter(
    interpreter_id: int,
    *languages: str,
    hours: Hours = STAFF_HOURS,
    busy: tuple[TimeRange, ...] = (),
) -> InterpreterSpec:
    return InterpreterSpec(interpreter_id, frozenset(languages), hours, busy)


def test_without_a_language_interpreters_do_not_matter() -> None:
    plain = compute_slots(query())
    assert plain and all(s.interpreter_ids == () for s in plain)
    assert compute_slots(query(interpreters=(interpreter(1, "pt", hours=MORNINGS),))) == plain


def test_a_slot_needs_an_interpreter_of_the_language() -> None:
    q = query(interpreter_language="pt", interpreters=(interpreter(1, "pt", hours=MORNINGS),))
    slots = compute_slots(q)
    assert times(slots) == ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]
    assert all(s.interpreter_ids == (1,) for s in slots)
    # Nobody speaks Vietnamese: no slot at all.
    assert compute_slots(dataclasses.replace(q, interpreter_language="vi")) == []


def test_a_booked_interpreter_is_not_offered_twice() -> None:
    busy = (TimeRange(at(MONDAY, 9, 30), at(MONDAY, 10, 30)),)
    q = query(
        interpreter_language="jsl",
        interpreters=(
            interpreter(1, "jsl", hours=MORNINGS, busy=busy),
            interpreter(2, "jsl", "en", hours=Hours(weekly=(WeeklyWindow(0, time(10), time(11)),))),
        ),
    )
    by_time = {
        s.start.astimezone(TOKYO).strftime("%H:%M"): s.interpreter_ids for s in compute_slots(q)
    }
    assert by_time == {
        "09:00": (1,),
        "10:00": (2,),
        "10:30": (1, 2),
        "11:00": (1,),
        "11:30": (1,),
    }


def test_the_interpreter_is_needed_for_the_appointment_not_the_buffers() -> None:
    spec = dataclasses.replace(query().service, buffer_before=timedelta(minutes=15))
    window = Hours(weekly=(WeeklyWindow(0, time(9), time(9, 30)),))
    q = query(
        service=spec, interpreter_language="pt", interpreters=(interpreter(1, "pt", hours=window),)
    )
    assert times(compute_slots(q)) == ["09:00"]


def test_both_staff_and_interpreter_must_be_free() -> None:
    q = query(
        staff=(
            dataclasses.replace(
                query().staff[0], leave=(TimeRange(at(MONDAY, 9), at(MONDAY, 10)),)
            ),
        ),
        interpreter_language="pt",
        interpreters=(interpreter(1, "pt", hours=MORNINGS),),
    )
    assert times(compute_slots(q)) == ["10:00", "10:30", "11:00", "11:30"]


def test_duplicate_interpreter_ids_are_rejected() -> None:
    with pytest.raises(ValueError, match="interpreter ids"):
        query(interpreters=(interpreter(1, "pt"), interpreter(1, "en")))


# -- properties ---------------------------------------------------------------------------------

LANGUAGES = ("pt", "zh", "jsl")


@st.composite
def interpreter_queries(draw: st.DrawFn) -> SlotQuery:
    base = draw(slot_queries())
    team = tuple(
        InterpreterSpec(
            id=interpreter_id,
            languages=frozenset(draw(st.sets(st.sampled_from(LANGUAGES), min_size=1))),
            hours=draw(st.sampled_from([STAFF_HOURS, DEPARTMENT, MORNINGS])),
            busy=tuple(draw(st.lists(time_ranges(), max_size=3))),
        )
        for interpreter_id in draw(st.sets(st.integers(1, 4), max_size=3))
    )
    return dataclasses.replace(
        base, interpreter_language=draw(st.sampled_from(LANGUAGES)), interpreters=team
    )


class TestProperties:
    @settings(max_examples=200, deadline=None)
    @given(interpreter_queries())
    def test_slots_are_those_with_staff_and_a_free_interpreter(self, q: SlotQuery) -> None:
        closed = closed_dates(q.closures, q.first_day, q.last_day)
        without = compute_slots(dataclasses.replace(q, interpreter_language=None))
        with_interpreter = compute_slots(q)
        expected = []
        for slot in without:
            appointment = TimeRange(slot.start, slot.end)
            day = slot.start.astimezone(q.tz).date()
            free = tuple(
                i.id
                for i in sorted(q.interpreters, key=lambda i: i.id)
                if q.interpreter_language in i.languages
                and any(
                    w.contains(appointment)
                    for w in open_windows(i.hours, day, city_closed=day in closed, tz=q.tz)
                )
                and not any(b.overlaps(appointment) for b in i.busy)
            )
            if free:
                expected.append(dataclasses.replace(slot, interpreter_ids=free))
        assert with_interpreter == expected

    @settings(max_examples=100, deadline=None)
    @given(interpreter_queries(), st.randoms(use_true_random=False))
    def test_booking_slot_after_slot_never_double_books_an_interpreter(
        self, q: SlotQuery, rnd: object
    ) -> None:
        import random

        assert isinstance(rnd, random.Random)
        booked: dict[int, list[TimeRange]] = {}
        for _ in range(6):
            slots = compute_slots(q)
            if not slots:
                break
            slot = rnd.choice(slots)
            chosen = rnd.choice(slot.interpreter_ids)
            appointment = TimeRange(slot.start, slot.end)
            assert not any(r.overlaps(appointment) for r in booked.get(chosen, []))
            booked.setdefault(chosen, []).append(appointment)
            q = dataclasses.replace(
                q,
                interpreters=tuple(
                    dataclasses.replace(i, busy=(*i.busy, appointment)) if i.id == chosen else i
                    for i in q.interpreters
                ),
            )


# -- on demand -----------------------------------------------------------------------------------


def test_free_interpreters_now() -> None:
    now = datetime.combine(MONDAY, time(10), tzinfo=TOKYO)
    window = TimeRange(now, now + timedelta(minutes=30))
    team = [
        interpreter(3, "pt", hours=MORNINGS),
        interpreter(
            1,
            "pt",
            hours=MORNINGS,
            busy=(TimeRange(now - timedelta(minutes=5), now + timedelta(minutes=5)),),
        ),
        interpreter(2, "zh", hours=MORNINGS),
        interpreter(4, "pt", hours=Hours(weekly=(WeeklyWindow(0, time(9), time(10, 15)),))),
        interpreter(5, "pt", "zh"),
    ]
    assert free_interpreters(team, "pt", window, TOKYO) == [3, 5]
    assert free_interpreters(team, "zh", window, TOKYO) == [2, 5]
    assert free_interpreters(team, "vi", window, TOKYO) == []
    # A city closed day closes interpreters' weekly hours too.
    assert free_interpreters(team, "pt", window, TOKYO, closed=frozenset({MONDAY})) == []
    late = TimeRange(now.replace(hour=11, minute=45), now.replace(hour=12, minute=15))
    assert free_interpreters(team, "pt", late, TOKYO) == [5]
