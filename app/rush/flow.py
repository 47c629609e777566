"""The queue's steps as the pages and the JSON API run them, each in short transactions.

A poll holds one database connection at a time and writes only when a step
is due (an admission step or a capacity check), so thousands of residents
polling cost reads, not writer locks. Each process (each ``AppContext``)
remembers what it last read, never deciding anything from it alone:

* the rush services' rows, for ``SERVICE_TTL_SECONDS`` (an administrator's
  edit applies within that);
* each queue's row, for ``ROW_TTL_SECONDS`` and only while no admission step
  or capacity check is due: a waiting resident's poll is then answered from
  memory. ``admitted`` only grows, so an old row can only under-report a
  turn, by at most one step; an admitted number is always read afresh;
* that a queue is full, until its next capacity check is due (nothing can
  open it before that check), so once full every page and poll answers
  "fully booked" without the database.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, joinedload

from app.core.context import AppContext
from app.rush import queue
from app.rush.errors import FullyBooked, NotRush
from app.rush.queue import Place, Policy, QueueState, State
from scheduler.errors import InvalidBookingRequest
from scheduler.models import Service

SERVICE_TTL_SECONDS = 5.0
ROW_TTL_SECONDS = 0.5


def policy(ctx: AppContext) -> Policy:
    return queue.Policy.from_settings(ctx.settings)


def load_service(session: Session, service_id: int) -> Service:
    """An active service, detached with its department loaded (for pages after the session)."""
    service = session.get(Service, service_id, options=[joinedload(Service.department)])
    if service is None or not service.active:
        raise InvalidBookingRequest("unknown service", field="service_id")
    session.expunge(service)
    return service


@dataclass
class _Memo:
    lock: threading.Lock = field(default_factory=threading.Lock)
    # service id -> (monotonic deadline, the detached row); read only once cached.
    services: dict[int, tuple[float, Service]] = field(default_factory=dict)
    # service id -> (monotonic deadline, the queue's row as last read).
    rows: dict[int, tuple[float, QueueState]] = field(default_factory=dict)
    # service id -> the queue's row as last seen full.
    full: dict[int, QueueState] = field(default_factory=dict)


def _memo(ctx: AppContext) -> _Memo:
    memo = ctx.memos.get("rush")
    if not isinstance(memo, _Memo):
        memo = ctx.memos.setdefault("rush", _Memo())
        assert isinstance(memo, _Memo)
    return memo


def service_of(ctx: AppContext, service_id: int) -> Service:
    """The active service (``load_service``), from this process's cache while it is fresh."""
    memo = _memo(ctx)
    hit = memo.services.get(service_id)
    if hit is not None and time.monotonic() < hit[0]:
        return hit[1]
    with ctx.sessions() as session:
        service = load_service(session, service_id)
    with memo.lock:
        memo.services[service_id] = (time.monotonic() + SERVICE_TTL_SECONDS, service)
    return service


def forget(ctx: AppContext, service_id: int) -> None:
    """Drop what this process remembers of the service and its queue."""
    memo = _memo(ctx)
    with memo.lock:
        memo.services.pop(service_id, None)
        memo.rows.pop(service_id, None)
        memo.full.pop(service_id, None)


def rush_service(ctx: AppContext, service_id: int) -> Service:
    service = service_of(ctx, service_id)
    if not service.rush:
        raise NotRush(service.id)
    return service


def seen(ctx: AppContext, state: QueueState) -> None:
    """Remember the queue's row just read (or returned by an update), and whether it is full."""
    memo = _memo(ctx)
    with memo.lock:
        memo.rows[state.service_id] = (time.monotonic() + ROW_TTL_SECONDS, state)
        if state.full_since is not None:
            memo.full[state.service_id] = state
        else:
            memo.full.pop(state.service_id, None)


def recent_row(ctx: AppContext, service_id: int, now: datetime) -> QueueState | None:
    """The queue's row as this process last read it, while fresh and nothing is due."""
    hit = _memo(ctx).rows.get(service_id)
    if hit is None or time.monotonic() >= hit[0]:
        return None
    row, rules = hit[1], policy(ctx)
    if queue.advance_due(row, now, rules) or queue.check_due(row, now, rules):
        return None
    return row


def known_full(ctx: AppContext, service_id: int, now: datetime) -> QueueState | None:
    """The queue's row as last seen full, while no capacity check could have opened it since."""
    state = _memo(ctx).full.get(service_id)
    if state is None or queue.check_due(state, now, policy(ctx)):
        return None
    return state


@dataclass(frozen=True)
class Arrival:
    service: Service
    number: int
    ticket: str
    place: Place  # where the new number stands, from the row the update returned


def arrive(ctx: AppContext, service_id: int, now: datetime) -> Arrival:
    """A new place at the end of the queue (committed): one writer transaction, no further read."""
    service = service_of(ctx, service_id)
    queue.check_open(service, now)
    if known_full(ctx, service.id, now) is not None:
        raise FullyBooked(service.id)
    try:
        with ctx.writer_sessions() as session:
            number, state = queue.take(session, service, now)
            session.commit()
        seen(ctx, state)
    except FullyBooked:
        with ctx.sessions() as session:
            full = queue.read_state(session, service.id)
        if full is not None:
            seen(ctx, full)
        raise
    place = queue.waiting_place(state, number, now, policy(ctx))
    return Arrival(service, number, queue.ticket_token(ctx.tokens, service.id, number), place)


def remembered(ctx: AppContext, service_id: int, number: int, now: datetime) -> Place | None:
    """The place of a waiting number from this process's memory alone, or None: ask ``look``.

    No database and no blocking, so an async route can answer it on the event loop.
    """
    hit = _memo(ctx).services.get(service_id)
    if hit is None or time.monotonic() >= hit[0] or not hit[1].rush:
        return None
    return _waiting_from_memory(ctx, service_id, number, now)


def _waiting_from_memory(
    ctx: AppContext, service_id: int, number: int, now: datetime
) -> Place | None:
    """A still-waiting number's place from the row this process knows full or read moments ago."""
    known = known_full(ctx, service_id, now) or recent_row(ctx, service_id, now)
    if known is None or not known.admitted < number <= known.issued:
        return None
    return queue.waiting_place(known, number, now, policy(ctx))


def look(ctx: AppContext, service: Service, number: int, now: datetime) -> Place:
    """Where ``number`` stands, after taking any admission step or capacity check now due.

    The common case (nothing due) is one read session and one SELECT of the
    queue's row (two for an admitted number); a number still waiting, when
    this process read the row moments ago or knows the queue full, none.
    """
    spot = _waiting_from_memory(ctx, service.id, number, now)
    if spot is not None:
        return spot
    rules = policy(ctx)
    with ctx.sessions() as session:
        row = queue.read_state(session, service.id)
        if row is not None and not (
            queue.advance_due(row, now, rules) or queue.check_due(row, now, rules)
        ):
            seen(ctx, row)
            return queue.place(session, service, number, now, rules, row)
    queue.maintain(ctx.sessions, ctx.writer_sessions, service, now, rules, ctx.tz, row)
    with ctx.sessions() as session:
        row = queue.read_state(session, service.id)
        if row is not None:
            seen(ctx, row)
        return queue.place(session, service, number, now, rules, row)


def retry_after(place: Place) -> int:
    """Seconds until asking again is worth it: soon when close, rarely when far back.

    Far-back residents polling every few seconds would be most of the load of a
    rush; a quarter of the estimate (which follows the measured pace) keeps the
    estimate fresh enough.
    """
    if place.state is not State.WAITING:
        return 0
    return max(3, min(60, place.eta_seconds // 4))


def admission(ctx: AppContext, place: Place) -> str | None:
    return queue.admission_token(ctx.tokens, place) if place.state is State.ADMITTED else None
