"""The routing core: fixed scenarios, then properties over random snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.routing import (
    Call,
    Fairness,
    Offer,
    Presence,
    Priority,
    RoutingError,
    RoutingPolicy,
    StaffMember,
    plan,
    timed_out,
    waiting_order,
)

T0 = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
POLICY = RoutingPolicy(offer_timeout=timedelta(seconds=20), escalate_after=timedelta(minutes=10))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def member(
    sid: int,
    skills: set[int],
    idle: float = 0,
    presence: Presence = Presence.AVAILABLE,
) -> StaffMember:
    return StaffMember(sid, frozenset(skills), presence, at(idle))


def walk_in(cid: int, service: int, queued: float, **kw: object) -> Call:
    return Call(cid, service, Priority.WALK_IN, at(queued), **kw)  # type: ignore[arg-type]


def test_longest_idle_qualified_staff_gets_the_call() -> None:
    staff = [member(1, {7}, idle=50), member(2, {7}, idle=10), member(3, {8}, idle=0)]
    result = plan([walk_in(1, 7, 60)], staff, [], at(60), POLICY)
    assert [(o.call_id, o.staff_id) for o in result.offers] == [(1, 2)]
    assert result.offers[0].expires_at == at(80)


def test_hand_over_to_a_department_goes_to_its_qualified_staff_first() -> None:
    # 1: another department, idle longest; 2: the department without the
    # service; 3: the department with it; 4: the department, idle shortest.
    staff = [
        StaffMember(1, frozenset({7}), Presence.AVAILABLE, at(0), frozenset({10})),
        StaffMember(2, frozenset({8}), Presence.AVAILABLE, at(1), frozenset({20})),
        StaffMember(3, frozenset({7}), Presence.AVAILABLE, at(2), frozenset({20})),
        StaffMember(4, frozenset({7}), Presence.AVAILABLE, at(3), frozenset({20})),
    ]
    walk = walk_in(1, 7, 0)
    handover = Call(-1, 7, Priority.HANDOVER, at(50), department_id=20)
    result = plan([walk, handover], staff, [], at(60), POLICY)
    # The hand-over goes first (that resident is in a call already), to the
    # department's longest-idle qualified member; the walk-in to the next.
    assert [(o.call_id, o.staff_id) for o in result.offers] == [(-1, 3), (1, 1)]
    anyone = Call(-2, None, Priority.HANDOVER, at(50), department_id=20)
    assert [o.staff_id for o in plan([anyone], staff, [], at(60), POLICY).offers] == [2]
    nowhere = Call(-3, None, Priority.HANDOVER, at(50))
    assert plan([nowhere], staff, [], at(60), POLICY).offers == ()


def test_a_named_colleague_alone_is_rung() -> None:
    staff = [member(1, {7}, idle=0), member(2, set(), idle=30)]
    targeted = Call(-1, None, Priority.HANDOVER, at(50), target_staff=2)
    result = plan([targeted], staff, [], at(60), POLICY)
    assert [o.staff_id for o in result.offers] == [2]
    refused = Call(-1, None, Priority.HANDOVER, at(50), (2,), refused_at=at(55), target_staff=2)
    assert plan([refused], staff, [], at(60), POLICY).offers == ()


def test_presence_times_out_only_after_the_setting() -> None:
    timeout = timedelta(seconds=60)
    assert not timed_out(at(0), at(60), timeout)
    assert timed_out(at(0), at(61), timeout)
    assert not timed_out(None, at(6000), timeout)


def test_first_free_takes_the_lowest_id_instead() -> None:
    policy = RoutingPolicy(fairness=Fairness.FIRST_FREE)
    staff = [member(2, {7}, idle=10), member(1, {7}, idle=50)]
    result = plan([walk_in(1, 7, 60)], staff, [], at(60), policy)
    assert [o.staff_id for o in result.offers] == [1]


def test_unqualified_away_and_offline_staff_are_never_offered() -> None:
    staff = [
        member(1, {8}),
        member(2, {7}, presence=Presence.AWAY),
        member(3, {7}, presence=Presence.OFFLINE),
        member(4, {7}, presence=Presence.IN_CALL),
    ]
    assert plan([walk_in(1, 7, 0)], staff, [], at(5), POLICY).offers == ()


def test_fifo_the_second_call_waits_for_the_one_free_staff_member() -> None:
    staff = [member(1, {7})]
    calls = [walk_in(2, 7, 30), walk_in(1, 7, 10)]
    result = plan(calls, staff, [], at(40), POLICY)
    assert [(o.call_id, o.staff_id) for o in result.offers] == [(1, 1)]
    # While call 1 rings, call 2 is not offered to the same person.
    again = plan(calls, staff, list(result.offers), at(45), POLICY)
    assert again.offers == ()
    assert again.lapsed == ()


def test_a_booked_call_goes_first_at_its_time_but_not_before() -> None:
    staff = [member(1, {7})]
    booked = Call(9, 7, Priority.BOOKED, at(600), preferred_staff=1)
    walk = walk_in(1, 7, 0)
    early = plan([walk, booked], staff, [], at(300), POLICY)
    assert [o.call_id for o in early.offers] == [1]
    due = plan([walk, booked], staff, [], at(600), POLICY)
    assert [o.call_id for o in due.offers] == [9]
    assert waiting_order([walk, booked]) == [booked, walk]


def test_a_booked_call_rings_its_own_staff_member_first() -> None:
    staff = [member(1, {7}, idle=0), member(2, {7}, idle=100)]
    booked = Call(9, 7, Priority.BOOKED, at(600), preferred_staff=2)
    assert [o.staff_id for o in plan([booked], staff, [], at(600), POLICY).offers] == [2]


def test_unanswered_offer_lapses_sets_away_and_goes_to_the_next() -> None:
    staff = [member(1, {7}, idle=0), member(2, {7}, idle=5)]
    call = walk_in(1, 7, 10)
    first = plan([call], staff, [], at(10), POLICY)
    assert [o.staff_id for o in first.offers] == [1]
    still = plan([call], staff, list(first.offers), at(29), POLICY)
    assert still.lapsed == () and still.offers == ()
    rung_out = plan([call], staff, list(first.offers), at(30), POLICY)
    assert rung_out.lapsed == first.offers
    assert rung_out.set_away == {1}
    assert [o.staff_id for o in rung_out.offers] == [2]


def test_declined_call_goes_to_the_next_and_back_only_when_nobody_else_is_free() -> None:
    staff = [member(1, {7}, idle=0), member(2, {7}, idle=5)]
    declined = walk_in(1, 7, 10, refused_by=(1,))
    assert [o.staff_id for o in plan([declined], staff, [], at(11), POLICY).offers] == [2]
    both = walk_in(1, 7, 10, refused_by=(1, 2), refused_at=at(11))
    # Everyone free refused: not at once (a decline must not ring again) ...
    assert plan([both], staff, [], at(12), POLICY).offers == ()
    # ... but after the pause, whoever refused longest ago first.
    assert [o.staff_id for o in plan([both], staff, [], at(71), POLICY).offers] == [1]


def test_a_rung_out_offer_does_not_ring_again_at_once_for_the_only_qualified() -> None:
    staff = [member(1, {7}), member(2, {8})]
    call = walk_in(1, 7, 0)
    offer = plan([call], staff, [], at(0), POLICY).offers
    rung_out = plan([call], staff, list(offer), at(20), POLICY)
    assert rung_out.set_away == {1} and rung_out.offers == ()


def test_offer_to_staff_who_went_away_lapses_without_setting_them_away() -> None:
    staff = [member(1, {7}, presence=Presence.AWAY)]
    offer = Offer(1, 1, at(0), at(20))
    result = plan([walk_in(1, 7, 0)], staff, [offer], at(5), POLICY)
    assert result.lapsed == (offer,)
    assert result.set_away == frozenset()


def test_long_waits_are_escalated() -> None:
    calls = [walk_in(1, 7, 0), walk_in(2, 7, 300)]
    result = plan(calls, [], [], at(600), POLICY)
    assert result.escalated == {1}


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(RoutingError):
        RoutingPolicy(offer_timeout=timedelta(0))
    with pytest.raises(RoutingError):
        RoutingPolicy(escalate_after=timedelta(seconds=-1))


# -- properties -----------------------------------------------------------------------------------

SERVICES = st.integers(min_value=1, max_value=4)


@st.composite
def snapshots(draw: st.DrawFn) -> tuple[list[Call], list[StaffMember], list[Offer], datetime]:
    staff = [
        StaffMember(
            sid,
            frozenset(draw(st.sets(SERVICES, max_size=3))),
            draw(st.sampled_from(list(Presence))),
            at(draw(st.integers(0, 600))),
        )
        for sid in range(1, draw(st.integers(0, 8)) + 1)
    ]
    calls = [
        Call(
            cid,
            draw(SERVICES),
            draw(st.sampled_from(list(Priority))),
            at(draw(st.integers(0, 900))),
            tuple(draw(st.sets(st.integers(1, 8), max_size=3))),
            None,
            draw(st.none() | st.integers(0, 1200).map(at)),
        )
        for cid in range(1, draw(st.integers(0, 10)) + 1)
    ]
    now = at(draw(st.integers(0, 1200)))
    # Existing offers as a consistent earlier round would have left them.
    offers: list[Offer] = []
    used_staff: set[int] = set()
    for call in calls:
        if staff and draw(st.booleans()):
            s = draw(st.sampled_from(staff))
            if s.id not in used_staff and call.service_id in s.skills:
                used_staff.add(s.id)
                start = now - timedelta(seconds=draw(st.integers(0, 40)))
                offers.append(Offer(call.id, s.id, start, start + POLICY.offer_timeout))
    return calls, staff, offers, now


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots(), st.sampled_from(list(Fairness)))
def test_never_two_offers_for_one_call_or_one_person(
    snapshot: tuple[list[Call], list[StaffMember], list[Offer], datetime], fairness: Fairness
) -> None:
    calls, staff, offers, now = snapshot
    policy = RoutingPolicy(fairness=fairness)
    result = plan(calls, staff, offers, now, policy)
    kept = [o for o in offers if o not in result.lapsed]
    ringing = kept + list(result.offers)
    assert len({o.call_id for o in ringing}) == len(ringing)
    assert len({o.staff_id for o in ringing}) == len(ringing)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots())
def test_offers_go_only_to_qualified_available_staff_for_due_calls(
    snapshot: tuple[list[Call], list[StaffMember], list[Offer], datetime],
) -> None:
    calls, staff, offers, now = snapshot
    result = plan(calls, staff, offers, now, POLICY)
    by_id = {s.id: s for s in staff}
    calls_by_id = {c.id: c for c in calls}
    for offer in result.offers:
        who, call = by_id[offer.staff_id], calls_by_id[offer.call_id]
        assert call.service_id in who.skills
        assert who.presence is Presence.AVAILABLE
        assert who.id not in result.set_away
        assert call.queued_at <= now
        assert offer.expires_at == now + POLICY.offer_timeout


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots())
def test_fifo_within_equal_priority_and_service(
    snapshot: tuple[list[Call], list[StaffMember], list[Offer], datetime],
) -> None:
    """No call is offered to someone while an earlier due call of the same
    service (and the same or a higher priority) is left without an offer,
    unless that person refused the earlier call."""
    calls, staff, offers, now = snapshot
    result = plan(calls, staff, offers, now, POLICY)
    kept = [o for o in offers if o not in result.lapsed]
    served = {o.call_id for o in kept} | {o.call_id for o in result.offers}
    due = [c for c in calls if c.queued_at <= now]
    for offer in result.offers:
        call = next(c for c in calls if c.id == offer.call_id)
        for other in due:
            if (
                other.service_id == call.service_id
                and other.priority <= call.priority
                and other.order_key() < call.order_key()
            ):
                assert other.id in served or offer.staff_id in other.refused_by, (other, call)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots())
def test_fair_routing_picks_the_longest_idle_fresh_candidate(
    snapshot: tuple[list[Call], list[StaffMember], list[Offer], datetime],
) -> None:
    calls, staff, offers, now = snapshot
    result = plan(calls, staff, offers, now, POLICY)
    kept = [o for o in offers if o not in result.lapsed]
    taken = {o.staff_id for o in kept} | set(result.set_away)
    calls_by_id = {c.id: c for c in calls}
    for offer in result.offers:  # in the order they were made
        call = calls_by_id[offer.call_id]
        refused = set(call.refused_by) | {o.staff_id for o in result.lapsed if o.call_id == call.id}
        free = [
            s
            for s in staff
            if s.presence is Presence.AVAILABLE
            and s.id not in taken
            and call.service_id in s.skills
            and s.id not in refused
        ]
        if free:
            best = min(free, key=lambda s: (s.idle_since, s.id))
            assert offer.staff_id == best.id
        taken.add(offer.staff_id)
