"""The rush queue on both databases: numbers in arrival order, admission in number order,
the admission window, forged and spent admissions, the active limit, full and not open."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import pytest
from city_fixtures import NOW, MiniCity
from sqlalchemy import Engine, event, select, update
from sqlalchemy.orm import Session

from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.settings import Settings
from app.core.tokens import Purpose, Tokens
from app.rush import flow, queue
from app.rush.errors import (
    AdmissionExpired,
    AdmissionInvalid,
    AdmissionRequired,
    AdmissionUsed,
    FullyBooked,
    NotRush,
    QueueNotOpen,
)
from app.rush.models import RushQueue, RushTicket
from app.rush.queue import State
from scheduler.models import Service, Staff
from scheduler.service import BookingRequest, SchedulingService
from scheduler.types import Channel

SECRET = "rush-secret-" + "r" * 40


def make_ctx(engine: Engine, clock: FixedClock, **rush: object) -> AppContext:
    settings = Settings(
        secret_key=SECRET,
        public_base_url="http://127.0.0.1:8000",
        database_url="sqlite://",
        **rush,  # type: ignore[arg-type]
    )
    return AppContext(settings=settings, engine=engine, clock=clock)


@pytest.fixture
def rush_city(city_engine: tuple[Engine, MiniCity]) -> tuple[Engine, MiniCity]:
    engine, city = city_engine
    with Session(engine) as s:
        s.execute(update(Service).where(Service.id == city.consult_id).values(rush=True))
        s.commit()
    return engine, city


def admitted_numbers(engine: Engine, service_id: int) -> list[int]:
    with Session(engine) as s:
        return list(
            s.scalars(
                select(RushTicket.number)
                .where(RushTicket.service_id == service_id, RushTicket.admitted_at.is_not(None))
                .order_by(RushTicket.number)
            )
        )


def book_with(engine: Engine, ctx: AppContext, service_id: int, number: int) -> int:
    """Book the first free time with admitted ``number`` (spent in the same transaction)."""
    now = ctx.clock.now()
    with Session(engine) as s:
        svc = SchedulingService(s, tz=ctx.tz)
        first = now.astimezone(ctx.tz).date() + timedelta(days=1)
        slot = svc.availability(service_id, first, first + timedelta(days=7), Channel.ONLINE, now)[
            0
        ]
        booking = svc.book(
            BookingRequest(service_id, slot.start, Channel.ONLINE, "先着 一郎", "a@example.jp"), now
        )
        queue.consume(s, service_id, number, booking.id)
        s.commit()
        return booking.id


def look(ctx: AppContext, service_id: int, number: int) -> queue.Place:
    return flow.look(ctx, flow.rush_service(ctx, service_id), number, ctx.clock.now())


def test_concurrent_arrivals_get_distinct_numbers_in_arrival_order_and_admission_follows_them(
    rush_city: tuple[Engine, MiniCity],
) -> None:
    engine, city = rush_city
    clock = FixedClock(NOW)
    ctx = make_ctx(engine, clock, rush_admissions_per_second=2.0)
    numbers: dict[str, list[int]] = {"first": [], "second": []}
    lock = threading.Lock()

    def arrive(wave: str, gate: threading.Barrier) -> None:
        gate.wait()
        number = flow.arrive(ctx, city.consult_id, clock.now()).number
        with lock:
            numbers[wave].append(number)

    for wave in ("first", "second"):
        gate = threading.Barrier(12)
        threads = [threading.Thread(target=arrive, args=(wave, gate)) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    # One number each, no gaps, and everyone who came after the first wave had
    # finished queues behind all of it.
    assert sorted(numbers["first"] + numbers["second"]) == list(range(1, 25))
    assert max(numbers["first"]) < min(numbers["second"])

    # Two admissions a second: after each step the admitted are exactly the
    # lowest numbers, whichever process (here: thread) took the step.
    seen: list[list[int]] = []
    for _ in range(6):
        clock.moment += timedelta(seconds=1.5)
        threads = [
            threading.Thread(target=look, args=(ctx, city.consult_id, n)) for n in (5, 9, 24, 24)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        seen.append(admitted_numbers(engine, city.consult_id))
    for admitted in seen:
        assert admitted == list(range(1, len(admitted) + 1))
    assert [len(a) for a in seen] == [3, 6, 9, 12, 15, 18]  # 2/s over 1.5 s steps


def test_place_estimate_and_admission_window(rush_city: tuple[Engine, MiniCity]) -> None:
    engine, city = rush_city
    clock = FixedClock(NOW)
    ctx = make_ctx(engine, clock, rush_admissions_per_second=1.0, rush_admission_minutes=5)
    for _ in range(4):
        flow.arrive(ctx, city.consult_id, clock.now())
    fourth = look(ctx, city.consult_id, 4)
    assert (fourth.state, fourth.ahead, fourth.eta_seconds) == (State.WAITING, 3, 4)
    assert flow.retry_after(fourth) == 3

    clock.moment += timedelta(seconds=1)
    first = look(ctx, city.consult_id, 1)
    assert first.state is State.ADMITTED
    assert first.expires_at == clock.now() + timedelta(minutes=5)
    assert look(ctx, city.consult_id, 4).ahead == 2
    token = flow.admission(ctx, first)
    assert token is not None
    with Session(engine) as s:
        assert queue.check_admission(s, ctx.tokens, city.consult_id, token, clock.now()) == 1

    clock.moment += timedelta(minutes=5)
    assert look(ctx, city.consult_id, 1).state is State.EXPIRED
    with Session(engine) as s, pytest.raises(AdmissionExpired):
        queue.check_admission(s, ctx.tokens, city.consult_id, token, clock.now())


def test_forged_and_misdirected_admissions_are_refused(rush_city: tuple[Engine, MiniCity]) -> None:
    engine, city = rush_city
    clock = FixedClock(NOW)
    ctx = make_ctx(engine, clock)
    arrival = flow.arrive(ctx, city.consult_id, clock.now())
    clock.moment += timedelta(seconds=1)
    place = look(ctx, city.consult_id, arrival.number)
    assert place.state is State.ADMITTED
    good = flow.admission(ctx, place)
    assert good is not None
    expires = place.expires_at
    forged = [
        Tokens("another-secret-" + "z" * 40).issue(
            Purpose.RUSH_ADMISSION, {"s": city.consult_id, "n": 1}, expires=expires
        ),
        good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        # The queue ticket is not an admission, nor is an admission for another service.
        arrival.ticket,
        ctx.tokens.issue(Purpose.RUSH_ADMISSION, {"s": city.capped_id, "n": 1}, expires=expires),
    ]
    with Session(engine) as s:
        for token in forged:
            with pytest.raises(AdmissionInvalid):
                queue.check_admission(s, ctx.tokens, city.consult_id, token, clock.now())
        with pytest.raises(AdmissionRequired):
            queue.check_admission(s, ctx.tokens, city.consult_id, None, clock.now())


def test_an_admission_books_once(rush_city: tuple[Engine, MiniCity]) -> None:
    engine, city = rush_city
    clock = FixedClock(NOW)
    ctx = make_ctx(engine, clock)
    number = flow.arrive(ctx, city.consult_id, clock.now()).number
    clock.moment += timedelta(seconds=1)
    look(ctx, city.consult_id, number)
    booking_id = book_with(engine, ctx, city.consult_id, number)
    with Session(engine) as s, pytest.raises(AdmissionUsed):
        queue.consume(s, city.consult_id, number, booking_id)
    assert look(ctx, city.consult_id, number).state is State.BOOKED


def test_admission_pauses_at_the_active_limit(rush_city: tuple[Engine, MiniCity]) -> None:
    engine, city = rush_city
    clock = FixedClock(NOW)
    ctx = make_ctx(engine, clock, rush_admissions_per_second=10.0, rush_max_active=3)
    for _ in range(6):
        flow.arrive(ctx, city.consult_id, clock.now())
    clock.moment += timedelta(seconds=5)
    assert look(ctx, city.consult_id, 6).state is State.WAITING
    assert admitted_numbers(engine, city.consult_id) == [1, 2, 3]
    # One admitted resident books: one more is let in, and no burst for the time held back.
    book_with(engine, ctx, city.consult_id, 2)
    clock.moment += timedelta(seconds=0.1)
    look(ctx, city.consult_id, 6)
    assert admitted_numbers(engine, city.consult_id) == [1, 2, 3, 4]
    # The window of the first three runs out: the rest are let in at the rate.
    clock.moment += timedelta(minutes=10, seconds=1)
    look(ctx, city.consult_id, 6)
    assert admitted_numbers(engine, city.consult_id) == [1, 2, 3, 4, 5, 6]


def test_a_fully_booked_service_says_so_to_everyone_waiting(
    rush_city: tuple[Engine, MiniCity],
) -> None:
    engine, city = rush_city
    clock = FixedClock(NOW)
    ctx = make_ctx(engine, clock, rush_admissions_per_second=0.01)
    flow.arrive(ctx, city.consult_id, clock.now())
    second = flow.arrive(ctx, city.consult_id, clock.now()).number
    assert look(ctx, city.consult_id, second).state is State.WAITING
    # Nobody left to staff the service: no free time in the horizon.
    with Session(engine) as s:
        s.execute(update(Staff).values(active=False))
        s.commit()
    clock.moment += timedelta(seconds=6)  # past the capacity check interval
    assert look(ctx, city.consult_id, second).state is State.FULL
    with Session(engine) as s:
        row = s.get(RushQueue, city.consult_id)
        assert row is not None and row.full_since == clock.now()
    with pytest.raises(FullyBooked):
        flow.arrive(ctx, city.consult_id, clock.now())
    # Times free up again (staff back): the queue opens again at the next check.
    with Session(engine) as s:
        s.execute(update(Staff).values(active=True))
        s.commit()
    clock.moment += timedelta(seconds=6)
    assert look(ctx, city.consult_id, second).state is State.WAITING


def test_no_queue_before_opening_and_none_for_ordinary_services(
    rush_city: tuple[Engine, MiniCity],
) -> None:
    engine, city = rush_city
    clock = FixedClock(NOW)
    ctx = make_ctx(engine, clock)
    opens = NOW + timedelta(hours=1)
    with Session(engine) as s:
        s.execute(update(Service).where(Service.id == city.consult_id).values(rush_opens_at=opens))
        s.commit()
    with pytest.raises(QueueNotOpen) as refused:
        flow.arrive(ctx, city.consult_id, clock.now())
    assert refused.value.opens_at == opens
    with pytest.raises(NotRush):
        flow.arrive(ctx, city.capped_id, clock.now())
    clock.moment = opens
    assert flow.arrive(ctx, city.consult_id, clock.now()).number == 1


def test_the_estimate_follows_the_measured_pace_when_booking_is_slower_than_the_rate(
    rush_city: tuple[Engine, MiniCity],
) -> None:
    engine, city = rush_city
    clock = FixedClock(NOW)
    # 2 a second configured, but only 2 admitted residents at a time: nobody
    # books, so the queue really moves at the pace their windows run out.
    ctx = make_ctx(engine, clock, rush_admissions_per_second=2.0, rush_max_active=2)
    for _ in range(10):
        flow.arrive(ctx, city.consult_id, clock.now())
    clock.moment += timedelta(seconds=1)
    tenth = look(ctx, city.consult_id, 10)
    # Not measured yet: the configured rate (7 ahead at 2/s, the next due now).
    assert (tenth.state, tenth.ahead, tenth.eta_seconds) == (State.WAITING, 7, 4)
    assert flow.retry_after(tenth) == 3
    # A minute on, still 2 admitted: the measured pace (2 in 61 s) is what the
    # resident is told, and they poll rarely.
    clock.moment += timedelta(seconds=60)
    tenth = look(ctx, city.consult_id, 10)
    assert admitted_numbers(engine, city.consult_id) == [1, 2]
    with Session(engine) as s:
        row = s.get(RushQueue, city.consult_id)
        assert row is not None and row.pace == pytest.approx(2 / 61)
    assert tenth.ahead == 7
    assert 7 * 61 / 2 <= tenth.eta_seconds <= 7 * 61 / 2 + 1
    assert flow.retry_after(tenth) == 53


def test_the_measured_pace_never_falls_below_what_the_active_limit_guarantees(
    rush_city: tuple[Engine, MiniCity],
) -> None:
    engine, city = rush_city
    clock = FixedClock(NOW)
    ctx = make_ctx(
        engine, clock, rush_admissions_per_second=2.0, rush_max_active=6, rush_admission_minutes=1
    )
    policy = flow.policy(ctx)
    assert policy.min_pace == pytest.approx(0.1)  # 6 places freed at most a minute after admission
    state = queue.QueueState(
        service_id=city.consult_id,
        issued=100,
        admitted=6,
        admitted_until=NOW,
        checked_at=NOW,
        full_since=None,
        paced_since=NOW - timedelta(seconds=120),
        paced_from=6,
        pace=0.0,
    )
    assert queue.measured_pace(state, NOW, policy) == pytest.approx(0.1)
    # A young window and nothing measured before: the configured rate.
    young = dataclasses.replace(state, paced_since=NOW - timedelta(seconds=5), pace=None)
    assert queue.measured_pace(young, NOW, policy) == 2.0
    # Half a minute into a window at 1/s after a full one at 0.5/s: between the two.
    blended = dataclasses.replace(
        state, paced_since=NOW - timedelta(seconds=30), paced_from=6, admitted=36, pace=0.5
    )
    assert queue.measured_pace(blended, NOW, policy) == pytest.approx(0.75)


def test_a_queue_that_ran_empty_measures_its_pace_afresh(
    rush_city: tuple[Engine, MiniCity],
) -> None:
    engine, city = rush_city
    clock = FixedClock(NOW)
    ctx = make_ctx(engine, clock, rush_admissions_per_second=1.0)
    flow.arrive(ctx, city.consult_id, clock.now())
    # One resident in a quiet hour: admitted, and nobody else for minutes.
    clock.moment += timedelta(seconds=2)
    look(ctx, city.consult_id, 1)
    clock.moment += timedelta(minutes=3)
    look(ctx, city.consult_id, 1)
    # Then a crowd: its estimate is the configured rate, not the quiet hour's pace.
    for _ in range(30):
        arrival = flow.arrive(ctx, city.consult_id, clock.now())
    assert arrival.place.state is State.WAITING
    assert (arrival.place.ahead, arrival.place.eta_seconds) == (29, 30)
    with Session(engine) as s:
        row = s.get(RushQueue, city.consult_id)
        assert row is not None and row.pace is None and row.paced_from == 1


def test_a_poll_reads_the_queue_row_once_and_a_full_queue_not_at_all(
    rush_city: tuple[Engine, MiniCity], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, city = rush_city
    clock = FixedClock(NOW)
    ctx = make_ctx(engine, clock, rush_admissions_per_second=0.01)
    flow.arrive(ctx, city.consult_id, clock.now())
    second = flow.arrive(ctx, city.consult_id, clock.now())
    assert second.place.state is State.WAITING
    look(ctx, city.consult_id, 2)  # the first capacity check
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "rush_" in statement or "services" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        # Moments after this process read the row, a waiting number is answered from it.
        assert look(ctx, city.consult_id, 2).state is State.WAITING
        assert statements == []
        # Once that row is older than ROW_TTL_SECONDS, and nothing is due: one
        # SELECT of the queue's row (the service row is cached).
        monkeypatch.setattr(flow, "ROW_TTL_SECONDS", 0.0)
        flow.forget(ctx, city.consult_id)
        assert look(ctx, city.consult_id, 2).state is State.WAITING
        # (Forgotten: the service's row is read again too, once.)
        assert len(statements) == 2 and "FROM services" in statements[0]
        assert "FROM rush_queues" in statements[1]
        statements.clear()
        assert look(ctx, city.consult_id, 2).state is State.WAITING
        assert len(statements) == 1 and "rush_queues" in statements[0]
        with Session(engine) as s:
            s.execute(update(Staff).values(active=False))
            s.commit()
        clock.moment += timedelta(seconds=6)
        assert look(ctx, city.consult_id, 2).state is State.FULL
        # Known full until the next capacity check: the waiting, the newcomers
        # and the front door learn it without the database.
        statements.clear()
        assert look(ctx, city.consult_id, 2).state is State.FULL
        with pytest.raises(FullyBooked):
            flow.arrive(ctx, city.consult_id, clock.now())
        assert flow.known_full(ctx, city.consult_id, clock.now()) is not None
        assert statements == []
        # Another process (context) learns it from its one read of the row.
        other = make_ctx(engine, clock, rush_admissions_per_second=0.01)
        assert look(other, city.consult_id, 2).state is State.FULL
        # The next check may open it again: then the database is asked.
        with Session(engine) as s:
            s.execute(update(Staff).values(active=True))
            s.commit()
        clock.moment += timedelta(seconds=6)
        assert flow.known_full(ctx, city.consult_id, clock.now()) is None
        assert look(ctx, city.consult_id, 2).state is State.WAITING
        assert flow.arrive(ctx, city.consult_id, clock.now()).number == 3
    finally:
        event.remove(engine, "before_cursor_execute", record)
