"""The waiting room of a rush service: take a place, watch it move, go on to book.

No page here is an error page: a forged or expired admission, an unknown
ticket or a full service each get a page of their own that says what
happened and what to do (status 200). The waiting page shows the place
without JavaScript (a ``<noscript>`` meta refresh); with it, a small script
polls the JSON API and updates a polite live region instead of reloading.

``gate`` is what the booking pages call for a rush service: the admission
travels in a cookie per service, set when the waiting page finds it is the
resident's turn.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from app.core.context import AppContext
from app.core.deps import CtxDep
from app.core.tokens import TokenError
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
from app.rush.queue import Place, State
from scheduler.models import Service
from web import csrf
from web.pages.resident.format import service_name
from web.pages.resident.support import ResidentRoute, page, request_locale

log = logging.getLogger(__name__)

router = APIRouter(route_class=ResidentRoute, include_in_schema=False)

# What the queue page says about the admission the resident came back with.
MESSAGES = {
    "expired": "Your time to book has run out. Please take a new place in the queue.",
    "invalid": "This place in the queue is not valid. Please take a new place.",
    "used": "You have already booked with this place in the queue.",
}


def ticket_cookie(service_id: int) -> str:
    return f"rush_ticket_{service_id}"


def admission_cookie(service_id: int) -> str:
    return f"rush_admission_{service_id}"


def _clock_label(moment: datetime, ctx: AppContext, locale: str) -> str:
    local = moment.astimezone(ctx.tz)
    if locale == "ja":
        return f"{local.month}月{local.day}日 {local:%H:%M}"
    return f"{local:%d %b} {local:%H:%M}"


def _view(request: Request, service: Service, kind: str, **extra: Any) -> Response:
    locale = request_locale(request)
    context: dict[str, Any] = {
        "kind": kind,
        "service": {"id": service.id, "name": service_name(service, locale)},
        "take_action": f"/rush/{service.id}",
        **extra,
    }
    return page(request, "resident/rush.html", context)


def _closed(request: Request, service: Service) -> Response:
    return _view(request, service, "full")


def _not_open(request: Request, ctx: AppContext, service: Service, opens: datetime) -> Response:
    seconds = max(1, math.ceil((opens - ctx.clock.now()).total_seconds()))
    return _view(
        request,
        service,
        "not-open",
        opens_label=_clock_label(opens, ctx, request_locale(request)),
        refresh=min(60, seconds),
    )


@router.get("/rush/{service_id}")
def queue_start(request: Request, service_id: int, ctx: CtxDep, m: str | None = None) -> Response:
    """The front door of a rush service: opening time, full, or "take a place"."""
    service = _service(ctx, service_id)
    if not service.rush:
        return RedirectResponse(f"/services/{service.id}", status_code=303)
    now = ctx.clock.now()
    if service.rush_opens_at is not None and now < service.rush_opens_at:
        return _not_open(request, ctx, service, service.rush_opens_at)
    if flow.known_full(ctx, service.id, now) is not None:
        return _closed(request, service)
    row = flow.recent_row(ctx, service.id, now)
    if row is None:
        with ctx.sessions() as session:
            row = queue.read_state(session, service.id)
        if row is not None:
            flow.seen(ctx, row)
    if row is not None and row.full_since is not None:
        return _closed(request, service)
    ticket = request.cookies.get(ticket_cookie(service.id))
    if ticket and m is None and _still_waiting(ctx, service, ticket, now) is not None:
        # Back at the front door: the place taken before still stands.
        return RedirectResponse(f"/rush/wait/{ticket}", status_code=303)
    return _view(request, service, "start", message=MESSAGES.get(m or ""))


def _still_waiting(ctx: AppContext, service: Service, ticket: str, now: datetime) -> Place | None:
    """The place behind the resident's ticket cookie, if it still waits or may book."""
    try:
        service_id, number = queue.read_ticket(ctx.tokens, ticket, now)
        if service_id != service.id:
            return None
        with ctx.sessions() as session:
            spot = queue.place(session, service, number, now, flow.policy(ctx))
    except (TokenError, AdmissionInvalid):
        return None
    return spot if spot.state in (State.WAITING, State.ADMITTED) else None


@router.post("/rush/{service_id}", dependencies=[Depends(csrf.require)])
def queue_take(request: Request, service_id: int, ctx: CtxDep) -> Response:
    """Take a place and answer with the waiting page at once (one request, not a redirect).

    The page's script puts the waiting address in the address bar, and its
    ``<noscript>`` refresh goes there; a resubmitted form (a reload without
    JavaScript) finds the place its cookie holds instead of taking another.
    """
    service = _service(ctx, service_id)
    now = ctx.clock.now()
    held = request.cookies.get(ticket_cookie(service.id))
    spot = _still_waiting(ctx, service, held, now) if held else None
    if held and spot is not None:
        if spot.state is State.ADMITTED:
            return RedirectResponse(f"/rush/wait/{held}", status_code=303)
        return _waiting(request, ctx, service, held, spot, moved=True)
    try:
        arrival = flow.arrive(ctx, service.id, now)
    except NotRush:
        return RedirectResponse(f"/services/{service.id}", status_code=303)
    except QueueNotOpen as exc:
        return _not_open(request, ctx, service, exc.opens_at)
    except FullyBooked:
        return _closed(request, service)
    log.info("rush service %s: number %s taken", service.id, arrival.number)
    response = _waiting(request, ctx, service, arrival.ticket, arrival.place, moved=True)
    response.set_cookie(
        ticket_cookie(service.id), arrival.ticket, max_age=24 * 3600, httponly=True, samesite="lax"
    )
    return response


@router.get("/rush/wait/{ticket}")
def queue_wait(request: Request, ticket: str, ctx: CtxDep) -> Response:
    """One place in the queue; at its turn, on to booking with the admission cookie."""
    now = ctx.clock.now()
    try:
        service_id, number = queue.read_ticket(ctx.tokens, ticket, now)
    except TokenError:
        # A cut-off or changed address: which service it was for is unknown.
        return page(request, "resident/rush.html", {"kind": "lost", "service": None})
    service = _service(ctx, service_id)
    if not service.rush:
        return RedirectResponse(f"/services/{service.id}", status_code=303)
    try:
        spot = flow.look(ctx, service, number, now)
    except AdmissionInvalid:
        return RedirectResponse(f"/rush/{service.id}?m=invalid", status_code=303)
    if spot.state is State.ADMITTED:
        response = RedirectResponse(f"/services/{service.id}", status_code=303)
        assert spot.expires_at is not None
        response.set_cookie(
            admission_cookie(service.id),
            queue.admission_token(ctx.tokens, spot),
            max_age=max(1, math.ceil((spot.expires_at - now).total_seconds())),
            httponly=True,
            samesite="lax",
        )
        return response
    if spot.state is State.FULL:
        return _closed(request, service)
    if spot.state is State.EXPIRED:
        return _view(request, service, "start", message=MESSAGES["expired"])
    if spot.state is State.BOOKED:
        return _view(request, service, "booked")
    return _waiting(request, ctx, service, ticket, spot)


def _waiting(
    request: Request,
    ctx: AppContext,
    service: Service,
    ticket: str,
    spot: Place,
    *,
    moved: bool = False,
) -> Response:
    """The waiting page; ``moved``: answered at another address than the waiting page's own."""
    minutes = max(1, math.ceil(spot.eta_seconds / 60))
    wait_url = f"/rush/wait/{ticket}"
    return _view(
        request,
        service,
        "waiting",
        number=spot.number,
        ahead=spot.ahead,
        minutes=minutes,
        refresh=flow.retry_after(spot),
        refresh_url=wait_url if moved else None,
        status_url=f"/api/v1/rush/tickets/{ticket}",
        wait_url=wait_url,
        window_minutes=ctx.settings.rush_admission_minutes,
    )


def _service(ctx: AppContext, service_id: int) -> Service:
    return flow.service_of(ctx, service_id)


# -- the booking pages' gate ---------------------------------------------------------------


def gate(
    request: Request, ctx: AppContext, session: Session, service: Service
) -> int | Response | None:
    """None for an ordinary service; the admitted number; or where to send the resident."""
    if not service.rush:
        return None
    now = ctx.clock.now()
    if flow.known_full(ctx, service.id, now) is not None:
        return RedirectResponse(f"/rush/{service.id}", status_code=303)
    row = queue.read_state(session, service.id)
    if row is not None and row.full_since is not None:
        return RedirectResponse(f"/rush/{service.id}", status_code=303)
    token = request.cookies.get(admission_cookie(service.id))
    try:
        return queue.check_admission(session, ctx.tokens, service.id, token, now)
    except AdmissionExpired:
        return RedirectResponse(f"/rush/{service.id}?m=expired", status_code=303)
    except AdmissionInvalid:
        return RedirectResponse(f"/rush/{service.id}?m=invalid", status_code=303)
    except AdmissionRequired:
        return RedirectResponse(f"/rush/{service.id}", status_code=303)
    except AdmissionUsed:
        return RedirectResponse(f"/rush/{service.id}?m=used", status_code=303)
