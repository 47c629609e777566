"""The queue's steps as the pages and the JSON API run them, each in short transactions.

A poll holds one database connection at a time and writes only when a step
is due (an admission step or a capacity check), so thousands of residents
polling cost reads, not writer locks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, joinedload

from app.core.context import AppContext
from app.rush import queue
from app.rush.errors import NotRush
from app.rush.queue import Place, Policy, State
from scheduler.errors import InvalidBookingRequest
from scheduler.models import Service


def policy(ctx: AppContext) -> Policy:
    return queue.Policy.from_settings(ctx.settings)


def load_service(session: Session, service_id: int) -> Service:
    """An active service, detached with its department loaded (for pages after the session)."""
    service = session.get(Service, service_id, options=[joinedload(Service.department)])
    if service is None or not service.active:
        raise InvalidBookingRequest("unknown service", field="service_id")
    session.expunge(service)
    return service


def rush_service(ctx: AppContext, service_id: int) -> Service:
    with ctx.sessions() as session:
        service = load_service(session, service_id)
    if not service.rush:
        raise NotRush(service.id)
    return service


@dataclass(frozen=True)
class Arrival:
    service: Service
    number: int
    ticket: str


def arrive(ctx: AppContext, service_id: int, now: datetime) -> Arrival:
    """A new place at the end of the queue (committed)."""
    with ctx.writer_sessions() as session:
        service = load_service(session, service_id)
        number = queue.take(session, service, now)
        session.commit()
    return Arrival(service, number, queue.ticket_token(ctx.tokens, service.id, number))


def look(ctx: AppContext, service: Service, number: int, now: datetime) -> Place:
    """Where ``number`` stands, after taking any admission step or capacity check now due.

    The common case (nothing due) is one read session and one or two SELECTs.
    """
    rules = policy(ctx)
    with ctx.sessions() as session:
        row = queue.queue_row(session, service.id)
        if row is not None and not (
            queue.advance_due(row, now, rules) or queue.check_due(row, now, rules)
        ):
            return queue.place(session, service, number, now, rules, row)
    queue.maintain(ctx.sessions, ctx.writer_sessions, service, now, rules, ctx.tz, row)
    with ctx.sessions() as session:
        return queue.place(session, service, number, now, rules)


def retry_after(place: Place) -> int:
    """Seconds until asking again is worth it: soon when close, rarely when far back.

    Far-back residents polling every few seconds would be most of the load of a
    rush; a quarter of the estimate keeps the estimate fresh enough.
    """
    if place.state is not State.WAITING:
        return 0
    return max(3, min(60, place.eta_seconds // 4))


def admission(ctx: AppContext, place: Place) -> str | None:
    return queue.admission_token(ctx.tokens, place) if place.state is State.ADMITTED else None
