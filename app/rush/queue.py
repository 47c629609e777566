"""The admission queue of a rush service: take a number, see your place, book once.

Everything lives in the database (``app/rush/models.py``), so any number of
app processes share one queue and a restart loses nobody's place:

* **take** is one ``UPDATE rush_queues SET issued = issued + 1 … RETURNING``
  plus the ticket's row, in the caller's transaction: the row lock orders
  concurrent arrivals, so numbers are first come, first numbered;
* **admission** moves ``admitted`` forward by ``rate`` numbers per second (a
  compare-and-set on the row, done by whichever request finds a step due), at
  most up to ``max_active`` residents admitted and not yet done; a number is
  admitted when ``number <= admitted``, so admission order is number order;
* **full**: at most every ``check_every`` one process (compare-and-set on
  ``checked_at``) looks for any free time left in the service's horizon; none
  left marks the queue full and every waiting resident gets that answer.

Functions take the session to use; the caller commits (``take``, ``consume``)
or the function commits its own short writer transaction (``advance``,
``check_capacity``), so a poll needs only a read session unless a step is due.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, Result, case, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.core.settings import Settings
from app.core.tokens import Purpose, TokenExpired, TokenInvalid, TokenNotYetValid, Tokens
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
from scheduler.models import Service
from scheduler.service import SchedulingService
from scheduler.types import Channel

log = logging.getLogger(__name__)

# Availability is asked at most this many days at once (SchedulingService's limit).
_CHUNK_DAYS = 92

# The admission pace is measured over windows of this length (rolled by the
# admission steps); a window younger than PACE_MIN_SECONDS with none before it
# says too little, and the configured rate stands in.
PACE_WINDOW = timedelta(seconds=60)
PACE_MIN_SECONDS = 10.0


@dataclass(frozen=True)
class Policy:
    rate: float  # admissions per second
    window: timedelta  # how long an admission lasts
    max_active: int  # admitted, not booked, not expired: at most this many
    check_every: timedelta  # capacity checks at most this often

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            rate=settings.rush_admissions_per_second,
            window=timedelta(minutes=settings.rush_admission_minutes),
            max_active=settings.rush_max_active,
            check_every=timedelta(seconds=settings.rush_check_seconds),
        )

    @property
    def step(self) -> timedelta:
        return timedelta(seconds=1 / self.rate)

    @property
    def min_pace(self) -> float:
        """The slowest the queue moves: the active limit frees each place by its window's end."""
        return min(self.rate, self.max_active / self.window.total_seconds())


class State(StrEnum):
    WAITING = "waiting"
    ADMITTED = "admitted"
    EXPIRED = "expired"  # admitted, did not book in time
    BOOKED = "booked"
    FULL = "full"


@dataclass(frozen=True)
class Place:
    service_id: int
    number: int
    state: State
    ahead: int  # residents before this one still waiting
    eta_seconds: int  # estimate until admission (0 once admitted)
    expires_at: datetime | None  # end of the admission window


@dataclass(frozen=True)
class QueueState:
    """The queue's row as read (or as an update returned it): everything a place needs."""

    service_id: int
    issued: int
    admitted: int
    admitted_until: datetime
    checked_at: datetime | None
    full_since: datetime | None
    paced_since: datetime | None
    paced_from: int
    pace: float | None


_STATE_COLUMNS = (
    RushQueue.service_id,
    RushQueue.issued,
    RushQueue.admitted,
    RushQueue.admitted_until,
    RushQueue.checked_at,
    RushQueue.full_since,
    RushQueue.paced_since,
    RushQueue.paced_from,
    RushQueue.pace,
)


def _state(row: Any) -> QueueState:
    return QueueState(
        service_id=int(row.service_id),
        issued=int(row.issued),
        admitted=int(row.admitted),
        admitted_until=row.admitted_until,
        checked_at=row.checked_at,
        full_since=row.full_since,
        paced_since=row.paced_since,
        paced_from=int(row.paced_from),
        pace=row.pace,
    )


def read_state(session: Session, service_id: int) -> QueueState | None:
    """The queue's row in one SELECT, without the ORM's identity map (the polls' one read)."""
    row = session.execute(
        select(*_STATE_COLUMNS).where(RushQueue.service_id == service_id)
    ).one_or_none()
    return None if row is None else _state(row)


def opens_at(service: Service) -> datetime | None:
    return service.rush_opens_at


def _ensure_queue(session: Session, service: Service, now: datetime) -> None:
    start = max(now, service.rush_opens_at or now)
    values = {
        "service_id": service.id,
        "issued": 0,
        "admitted": 0,
        "admitted_until": start,
        "paced_since": start,
        "paced_from": 0,
    }
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(RushQueue).values(**values).on_conflict_do_nothing())


def check_open(service: Service, now: datetime) -> None:
    if not service.rush:
        raise NotRush(service.id)
    if service.rush_opens_at is not None and now < service.rush_opens_at:
        raise QueueNotOpen(service.id, service.rush_opens_at)


def take(session: Session, service: Service, now: datetime) -> tuple[int, QueueState]:
    """A new number for an arrival and the queue as it left it (the caller commits).

    Refused before opening or when full.
    """
    check_open(service, now)
    empty = RushQueue.admitted == RushQueue.issued
    statement = (
        update(RushQueue)
        .where(RushQueue.service_id == service.id)
        .values(
            issued=RushQueue.issued + 1,
            # An empty queue earns no admissions while nobody waits: the
            # admission clock restarts with the first arrival.
            admitted_until=case(
                (empty & (RushQueue.admitted_until < now), now),
                else_=RushQueue.admitted_until,
            ),
            # And its pace is measured afresh: a quiet spell is no measure of
            # how fast a crowd moves.
            paced_since=case((empty, now), else_=RushQueue.paced_since),
            paced_from=case((empty, RushQueue.issued), else_=RushQueue.paced_from),
            pace=case((empty, None), else_=RushQueue.pace),
        )
        .returning(*_STATE_COLUMNS)
    )
    row = session.execute(statement).one_or_none()
    if row is None:  # the service's first arrival: its queue's row first
        _ensure_queue(session, service, now)
        row = session.execute(statement).one()
    state = _state(row)
    if state.full_since is not None:
        raise FullyBooked(service.id)
    session.add(RushTicket(service_id=service.id, number=state.issued, issued_at=now))
    session.flush()
    return state.issued, state


def _rowcount(result: Result[Any]) -> int:
    # Only an UPDATE's CursorResult has a row count; every caller here runs one.
    return int(cast(CursorResult[Any], result).rowcount)


def queue_row(session: Session, service_id: int) -> RushQueue | None:
    return session.get(RushQueue, service_id, populate_existing=True)


def measured_pace(queue: QueueState, now: datetime, policy: Policy) -> float:
    """Admissions per second the queue has been making lately; the configured rate until measured.

    The last full window blended with the current one by its age, so the pace
    follows a change within a minute without jumping at each roll. Never above
    the rate nor below what the active limit guarantees (``Policy.min_pace``).
    """
    current: float | None = None
    weight = 0.0
    if queue.paced_since is not None:
        elapsed = (now - queue.paced_since).total_seconds()
        if elapsed >= PACE_MIN_SECONDS:
            current = (queue.admitted - queue.paced_from) / elapsed
            weight = min(1.0, elapsed / PACE_WINDOW.total_seconds())
    if queue.pace is None:
        measured = current
    elif current is None:
        measured = queue.pace
    else:
        measured = queue.pace * (1 - weight) + current * weight
    if measured is None:
        return policy.rate
    return min(policy.rate, max(policy.min_pace, measured))


def estimate(queue: QueueState, ahead: int, now: datetime, policy: Policy) -> int:
    """Seconds until the resident with ``ahead`` residents before them is admitted.

    The next number is due one step after the admission clock; those after it
    at the measured pace.
    """
    first = max(0.0, (queue.admitted_until + policy.step - now).total_seconds())
    seconds = first + ahead / measured_pace(queue, now, policy)
    return max(0, math.ceil(round(seconds, 3)))


def waiting_place(queue: QueueState, number: int, now: datetime, policy: Policy) -> Place:
    """The place of a number not admitted yet: from the queue's row alone, no further read."""
    assert number > queue.admitted
    if queue.full_since is not None:
        return Place(queue.service_id, number, State.FULL, 0, 0, None)
    ahead = number - queue.admitted - 1
    eta = estimate(queue, ahead, now, policy)
    return Place(queue.service_id, number, State.WAITING, ahead, eta, None)


def place(
    session: Session,
    service: Service,
    number: int,
    now: datetime,
    policy: Policy,
    row: QueueState | None = None,
) -> Place:
    """Where ``number`` stands now (read only: ``advance`` moves the queue).

    ``row``: the queue's row just read (or returned by an update), to save reading it again;
    a waiting or full place needs nothing more.
    """
    queue = row if row is not None else read_state(session, service.id)
    if queue is None or number > queue.issued:
        raise AdmissionInvalid(service.id, "no such number")
    if number > queue.admitted:
        return waiting_place(queue, number, now, policy)
    ticket = session.scalar(
        select(RushTicket).where(RushTicket.service_id == service.id, RushTicket.number == number)
    )
    if ticket is None:  # pragma: no cover - rows are written with their number
        raise AdmissionInvalid(service.id, "no such ticket")
    if ticket.booking_id is not None:
        return Place(service.id, number, State.BOOKED, 0, 0, None)
    if queue.full_since is not None:
        return Place(service.id, number, State.FULL, 0, 0, None)
    admitted_at = ticket.admitted_at or now
    expires = admitted_at + policy.window
    state = State.ADMITTED if now < expires else State.EXPIRED
    return Place(service.id, number, state, 0, 0, expires)


def advance_due(queue: RushQueue | QueueState, now: datetime, policy: Policy) -> bool:
    return queue.admitted < queue.issued and now >= queue.admitted_until + policy.step


def advance(session: Session, service_id: int, now: datetime, policy: Policy) -> int:
    """Admit the numbers whose time has come; commits. Returns how many this call admitted.

    Safe to call from every process at once: the update is a compare-and-set on
    the row's counters, so a step is taken once and the losers just read it.
    """
    queue = queue_row(session, service_id)
    if queue is None or not advance_due(queue, now, policy):
        session.rollback()
        return 0
    steps = math.floor((now - queue.admitted_until) / policy.step)
    active = session.scalar(
        select(func.count())
        .select_from(RushTicket)
        .where(
            RushTicket.service_id == service_id,
            RushTicket.admitted_at > now - policy.window,
            RushTicket.booking_id.is_(None),
        )
    )
    room = policy.max_active - int(active or 0)
    count = max(0, min(steps, queue.issued - queue.admitted, room))
    # Credit the step clock only for what was admitted; a queue held back by
    # the active limit (or run empty) earns no burst for later.
    until = queue.admitted_until + policy.step * count if count == steps else now
    old_admitted, old_until = queue.admitted, queue.admitted_until
    paced = _roll_pace(queue, old_admitted + count, now)
    moved = _rowcount(
        session.execute(
            update(RushQueue)
            .where(
                RushQueue.service_id == service_id,
                RushQueue.admitted == old_admitted,
                RushQueue.admitted_until == old_until,
            )
            .values(admitted=old_admitted + count, admitted_until=until, **paced)
            .execution_options(synchronize_session=False)
        )
    )
    if moved != 1:
        session.rollback()
        return 0
    if count:
        session.execute(
            update(RushTicket)
            .where(
                RushTicket.service_id == service_id,
                RushTicket.number > old_admitted,
                RushTicket.number <= old_admitted + count,
            )
            .values(admitted_at=now)
            .execution_options(synchronize_session=False)
        )
    session.commit()
    return count


def _roll_pace(queue: RushQueue, admitted: int, now: datetime) -> dict[str, Any]:
    """The pace columns after this step: a full window becomes ``pace`` and a new one starts."""
    if queue.paced_since is None:  # a row from before the pace was measured
        return {"paced_since": now, "paced_from": queue.admitted}
    elapsed = now - queue.paced_since
    if elapsed < PACE_WINDOW:
        return {}
    pace = (admitted - queue.paced_from) / elapsed.total_seconds()
    return {"paced_since": now, "paced_from": admitted, "pace": pace}


def check_due(queue: RushQueue | QueueState, now: datetime, policy: Policy) -> bool:
    return queue.checked_at is None or now >= queue.checked_at + policy.check_every


def claim_check(session: Session, service_id: int, now: datetime, policy: Policy) -> bool:
    """Take the turn to look for free time (compare-and-set on ``checked_at``); commits."""
    queue = queue_row(session, service_id)
    if queue is None or not check_due(queue, now, policy):
        session.rollback()
        return False
    condition = (
        RushQueue.checked_at.is_(None)
        if queue.checked_at is None
        else RushQueue.checked_at == queue.checked_at
    )
    claimed = _rowcount(
        session.execute(
            update(RushQueue)
            .where(RushQueue.service_id == service_id, condition)
            .values(checked_at=now)
            .execution_options(synchronize_session=False)
        )
    )
    session.commit()
    return bool(claimed == 1)


def has_free_time(svc: SchedulingService, service: Service, now: datetime) -> bool:
    """Any bookable start left from now to the end of the service's horizon."""
    today = now.astimezone(svc.tz).date()
    last = today + timedelta(days=service.horizon_days + 1)
    channels = [Channel(c) for c in service.channels.split(",") if c] or [Channel.ONLINE]
    first = today
    while first <= last:
        until = min(first + timedelta(days=_CHUNK_DAYS - 1), last)
        for channel in channels:
            if svc.availability(service.id, first, until, channel, now):
                return True
        first = until + timedelta(days=1)
    return False


def record_capacity(session: Session, service_id: int, free: bool, now: datetime) -> None:
    """Mark the queue full (or not any more, after cancellations); commits."""
    queue = queue_row(session, service_id)
    if queue is None:
        session.rollback()
        return
    if free and queue.full_since is not None:
        queue.full_since = None
        log.info("rush service %s has free time again", service_id)
    elif not free and queue.full_since is None:
        queue.full_since = now
        log.info("rush service %s is fully booked", service_id)
    session.commit()


def maintain(
    read: Callable[[], Session],
    write: Callable[[], Session],
    service: Service,
    now: datetime,
    policy: Policy,
    tz: ZoneInfo,
    queue: RushQueue | QueueState | None = None,
) -> bool:
    """Whatever the queue needs now: an admission step, a capacity check (each only if due).

    ``queue``: the row as just read, if the caller has it. True when anything was written.
    """
    if queue is None:
        with read() as session:
            queue = read_state(session, service.id)
    if queue is None:
        return False
    step_due = advance_due(queue, now, policy)
    look_due = check_due(queue, now, policy)
    if step_due:
        with write() as session:
            advance(session, service.id, now, policy)
    if look_due:
        with write() as session:
            claimed = claim_check(session, service.id, now, policy)
        if claimed:
            with read() as session:
                free = has_free_time(SchedulingService(session, tz=tz), service, now)
            with write() as session:
                record_capacity(session, service.id, free, now)
    return step_due or look_due


# -- admissions ---------------------------------------------------------------------------


def ticket_token(tokens: Tokens, service_id: int, number: int) -> str:
    return tokens.issue(Purpose.RUSH_TICKET, {"s": service_id, "n": number})


def read_ticket(tokens: Tokens, token: str, now: datetime) -> tuple[int, int]:
    """(service id, number) of a ticket token; a forged one raises ``TokenInvalid``."""
    claims = tokens.verify(Purpose.RUSH_TICKET, token, now=now)
    try:
        return int(claims["s"]), int(claims["n"])
    except (KeyError, TypeError, ValueError):
        raise TokenInvalid("bad ticket") from None


def admission_token(tokens: Tokens, spot: Place) -> str:
    assert spot.state is State.ADMITTED and spot.expires_at is not None
    return tokens.issue(
        Purpose.RUSH_ADMISSION, {"s": spot.service_id, "n": spot.number}, expires=spot.expires_at
    )


def check_admission(
    session: Session, tokens: Tokens, service_id: int, token: str | None, now: datetime
) -> int:
    """The admitted number behind ``token`` for ``service_id``, or why it cannot book."""
    if not token:
        raise AdmissionRequired(service_id)
    try:
        claims = tokens.verify(Purpose.RUSH_ADMISSION, token, now=now)
        number = int(claims["n"])
        if int(claims["s"]) != service_id:
            raise AdmissionInvalid(service_id, "another service")
    except TokenExpired:
        raise AdmissionExpired(service_id) from None
    except (TokenInvalid, TokenNotYetValid, KeyError, TypeError, ValueError):
        raise AdmissionInvalid(service_id) from None
    booked = session.scalar(
        select(RushTicket.booking_id).where(
            RushTicket.service_id == service_id, RushTicket.number == number
        )
    )
    if booked is not None:
        raise AdmissionUsed(service_id)
    return number


def consume(session: Session, service_id: int, number: int, booking_id: int) -> None:
    """Spend the admission on ``booking_id``, in the booking's transaction (caller commits).

    Two requests racing with one admission: the second waits on the row and
    then finds it used, so its booking rolls back.
    """
    used = _rowcount(
        session.execute(
            update(RushTicket)
            .where(
                RushTicket.service_id == service_id,
                RushTicket.number == number,
                RushTicket.booking_id.is_(None),
            )
            .values(booking_id=booking_id)
            .execution_options(synchronize_session=False)
        )
    )
    if used != 1:
        raise AdmissionUsed(service_id)
