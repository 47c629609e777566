"""The kiosk's promised wait (``scheduler.wait``): the formula, case by case."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduler.routing import Call, Presence, Priority, StaffMember
from scheduler.types import DateOverride, Hours, StaffSpec, TimeRange, WeeklyWindow
from scheduler.wait import Handling, next_expected, predict_wait

T0 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # Monday 10:00 JST
TOKYO = ZoneInfo("Asia/Tokyo")
MIN = timedelta(minutes=1)
NO_ANSWER_TIME = Handling(answer=timedelta(0), default_talk=8 * MIN)


def at(minutes: float) -> datetime:
    return T0 + minutes * MIN


def walk_in(cid: int, service: int, minutes: float = 0) -> Call:
    return Call(cid, service, Priority.WALK_IN, at(minutes))


def member(sid: int, skills: set[int], presence: Presence = Presence.AVAILABLE) -> StaffMember:
    return StaffMember(sid, frozenset(skills), presence, at(-60))


def test_nobody_qualified_available_or_in_a_call_promises_nothing() -> None:
    calls = [walk_in(1, 7)]
    assert predict_wait(calls[0], calls, [], {}, NO_ANSWER_TIME, T0) is None
    # Away, offline, or qualified for something else: nobody can answer.
    staff = [
        member(1, {7}, Presence.AWAY),
        member(2, {7}, Presence.OFFLINE),
        member(3, {8}),
    ]
    assert predict_wait(calls[0], calls, staff, {}, NO_ANSWER_TIME, T0) is None


def test_someone_free_answers_after_the_measured_answer_time() -> None:
    calls = [walk_in(1, 7)]
    handling = Handling(answer=timedelta(seconds=12))
    assert predict_wait(calls[0], calls, [member(1, {7})], {}, handling, T0) == timedelta(
        seconds=12
    )


def test_place_in_line_over_the_staff_who_serve_it() -> None:
    # One person, handling 6 min (this service's own recent calls): the
    # third in line waits for the two before, 12 minutes.
    handling = Handling(talks={7: [6 * MIN, 6 * MIN, 6 * MIN]}, answer=timedelta(0))
    calls = [walk_in(1, 7, -3), walk_in(2, 7, -2), walk_in(3, 7, -1)]
    one = [member(1, {7})]
    assert predict_wait(calls[2], calls, one, {}, handling, T0) == 12 * MIN
    # Two people: the first two are answered at once, the third after one call.
    two = [member(1, {7}), member(2, {7})]
    assert predict_wait(calls[2], calls, two, {}, handling, T0) == 6 * MIN


def test_a_colleague_in_a_call_frees_up_after_the_rest_of_it() -> None:
    # Recent calls lasted 7 minutes; this call has lasted 5: 2 minutes are left.
    handling = Handling(talks={7: [7 * MIN] * 3}, answer=timedelta(0))
    calls = [walk_in(1, 7)]
    staff = [member(1, {7}, Presence.IN_CALL)]
    assert predict_wait(calls[0], calls, staff, {1: at(-5)}, handling, T0) == 2 * MIN
    # Longer than every recent call: a quarter of a mean call is left.
    assert predict_wait(calls[0], calls, staff, {1: at(-20)}, handling, T0) == 1.75 * MIN
    # Of recent calls of 4, 6 and 8 minutes, after 5 minutes 1 or 3 are left.
    varied = Handling(talks={7: [4 * MIN, 6 * MIN, 8 * MIN]}, answer=timedelta(0))
    assert predict_wait(calls[0], calls, staff, {1: at(-5)}, varied, T0) in (MIN, 3 * MIN)


def test_with_several_in_calls_the_first_to_finish_comes_sooner_than_any_mean() -> None:
    # Calls last 1 or 9 minutes (mean 5). Three people in calls that just
    # started: the first of them is usually free after 1 minute, not 5.
    handling = Handling(talks={7: [1 * MIN, 9 * MIN, 1 * MIN, 9 * MIN]}, answer=timedelta(0))
    calls = [walk_in(1, 7)]
    staff = [member(sid, {7}, Presence.IN_CALL) for sid in (1, 2, 3)]
    since = {1: T0, 2: T0, 3: T0}
    assert predict_wait(calls[0], calls, staff, since, handling, T0) == 1 * MIN
    # The same inputs give the same answer (a fixed seed).
    assert predict_wait(calls[0], calls, staff, since, handling, T0) == 1 * MIN


def test_calls_of_other_services_ahead_take_shared_staff() -> None:
    handling = Handling(talks={7: [10 * MIN] * 3, 8: [4 * MIN] * 3}, answer=timedelta(0))
    # Service 8's caller came first; the only person handles both.
    calls = [walk_in(1, 8, -1), walk_in(2, 7, 0)]
    assert predict_wait(calls[1], calls, [member(1, {7, 8})], {}, handling, T0) == 4 * MIN
    # A person who handles only service 8 and has been idle longer takes that
    # call (the router's longest-idle rule): no wait for service 7.
    only_8 = StaffMember(2, frozenset({8}), Presence.AVAILABLE, at(-90))
    assert predict_wait(calls[1], calls, [member(1, {7, 8}), only_8], {}, handling, T0) == (
        timedelta(0)
    )
    # Idle for less time than the other, the router rings the other first: a wait.
    fresh_8 = StaffMember(2, frozenset({8}), Presence.AVAILABLE, at(-30))
    assert predict_wait(calls[1], calls, [member(1, {7, 8}), fresh_8], {}, handling, T0) == (
        4 * MIN
    )


def test_booked_visits_go_first_but_not_before_their_time() -> None:
    handling = Handling(talks={7: [10 * MIN] * 3}, answer=timedelta(0))
    walk = walk_in(1, 7, -5)
    due_now = Call(2, 7, Priority.BOOKED, at(0))
    due_later = Call(3, 7, Priority.BOOKED, at(30))
    staff = [member(1, {7})]
    assert predict_wait(walk, [walk, due_now], staff, {}, handling, T0) == 10 * MIN
    assert predict_wait(walk, [walk, due_later], staff, {}, handling, T0) == timedelta(0)


def test_few_calls_of_a_service_use_all_services_then_the_default() -> None:
    assert Handling(default_talk=8 * MIN).talk(7) == 8 * MIN
    pooled = Handling(talks={7: [2 * MIN], 8: [4 * MIN, 6 * MIN]})
    assert pooled.talk(7) == 4 * MIN  # one call of its own is too few
    assert Handling(talks={7: [2 * MIN, 2 * MIN, 5 * MIN]}).talk(7) == 3 * MIN


def working(weekly: list[tuple[int, str, str]], *overrides: DateOverride) -> Hours:
    return Hours(
        tuple(WeeklyWindow(d, time.fromisoformat(s), time.fromisoformat(e)) for d, s, e in weekly),
        overrides,
    )


def test_the_next_qualified_staff_member_is_expected_when_their_hours_start() -> None:
    # 10:00 on Monday: one works from 13:00, one is on leave until 11:30,
    # one works 9:00-17:00 (here already, so not "expected").
    later = StaffSpec(1, frozenset({7}), working([(0, "13:00", "17:00")]))
    leave = StaffSpec(
        2,
        frozenset({7}),
        working([(0, "09:00", "17:00")]),
        leave=(TimeRange(at(-120), at(90)),),
    )
    present = StaffSpec(3, frozenset({7}), working([(0, "09:00", "17:00")]))
    assert next_expected([later, leave, present], frozenset(), T0, TOKYO) == at(90)
    assert next_expected([later, present], frozenset(), T0, TOKYO) == at(180)
    # Nobody later today: the next working day's start (next Monday 9:00).
    assert next_expected([present], frozenset(), T0, TOKYO) == at(7 * 24 * 60 - 60)
    # Tuesday is a city holiday, Wednesday's hours are moved by an override.
    moved = working(
        [(0, "09:00", "17:00"), (1, "09:00", "17:00"), (2, "09:00", "17:00")],
        DateOverride(date(2026, 12, 2), ((time(10, 30), time(12, 0)),)),
    )
    spec = StaffSpec(4, frozenset({7}), moved)
    closed = frozenset({date(2026, 12, 1)})
    assert next_expected([spec], closed, T0, TOKYO) == at(48 * 60 + 30)
    assert next_expected([StaffSpec(5, frozenset({7}))], frozenset(), T0, TOKYO) is None
