"""The staff console's counter: presence, incoming calls with a ring, the
walk-in call screen, and (for administrators) the supervisor's queue board.

Presence and answers go through the counter API (``app.api.counter``); this
module renders the pages and streams the console's state over Server-Sent
Events, like today's queue: every poll runs a routing round, so an offer that
rang out moves on even when no kiosk is polling.
"""

from __future__ import annotations

import logging
import time as monotonic_time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from app.auth.deps import CurrentStaff
from app.auth.errors import NotLoggedIn
from app.core.context import AppContext
from app.core.db import is_busy
from app.core.deps import CtxDep, ReadSession
from app.core.i18n import gettext
from app.counter.models import HandoverRequest, QueueTicket
from app.counter.service import CounterError, CounterService
from app.counter.settings import CounterSettings, counter_settings
from app.counter.views import handover_offer_out
from scheduler.models import Department, InterpreterLanguage, Service, Staff
from scheduler.routing import Presence
from web.pages.call.pages import RTC_CONFIG_URL, call_messages
from web.pages.staff.auth import StaffPageRoute, console_page
from web.pages.staff.console import KEEPALIVE_POLLS, POLL_SECONDS, RETRY_MS, STREAM_SECONDS, _sse
from web.pages.staff.format import clock, named
from web.pages.staff.handover_form import handover_choices
from web.pages.staff.interpreter import interpreter_panel
from web.templating import page_locale

log = logging.getLogger(__name__)
router = APIRouter(route_class=StaffPageRoute, include_in_schema=False)

PRESENCE_LABELS: dict[str, str] = {
    Presence.AVAILABLE: "Available",
    Presence.IN_CALL: "In a call",
    Presence.AWAY: "Away",
    Presence.OFFLINE: "Offline",
}


def _label(session: Any, ticket: QueueTicket, locale: str) -> str:
    service = session.get(Service, ticket.service_id)
    return named(service, locale) if service else ""


def _handover_label(session: Any, request: HandoverRequest, locale: str) -> str:
    if request.department_id is not None:
        dept = session.get(Department, request.department_id)
        service = session.get(Service, request.service_id) if request.service_id else None
        return " ".join(named(x, locale) for x in (dept, service) if x is not None)
    target = session.get(Staff, request.target_staff_id)
    return target.display_name if target else ""


def _language(session: Any, code: str | None, locale: str) -> str | None:
    if code is None:
        return None
    row = session.get(InterpreterLanguage, code)
    return named(row, locale) if row else code


def console_state(
    ctx: AppContext, settings: CounterSettings, staff_id: int, locale: str
) -> dict[str, Any] | None:
    """Presence, ringing offers and (for administrators) the board, after a routing round."""
    with ctx.writer_sessions() as session:
        staff = session.get(Staff, staff_id)
        if staff is None or not staff.active:
            return None
        now = ctx.clock.now()
        svc = CounterService(session, ctx.tz, settings)
        offers = []
        for offer in svc.ringing_for(staff, now):
            ticket = session.get(QueueTicket, offer.ticket_id)
            assert ticket is not None
            offers.append(
                {
                    "id": offer.id,
                    "ticket": ticket.id,
                    "number": ticket.number,
                    "service": _label(session, ticket, locale),
                    "text": gettext(
                        locale,
                        "Incoming call: ticket {number}, {service}",
                        number=ticket.number,
                        service=_label(session, ticket, locale),
                    ),
                    "context": "",
                    "answer_url": f"/api/v1/staff/offers/{offer.id}",
                }
            )
        for ring in svc.handover_ringing_for(staff):
            out = handover_offer_out(session, ring, locale)
            offers.append(
                {
                    # Its own id space: the key the page tells rings apart by.
                    "id": f"h{ring.id}",
                    "ticket": out.ticket_id,
                    "kind": out.kind,
                    "text": out.text,
                    "context": out.context,
                    "answer_url": f"/api/v1/staff/handover-offers/{ring.id}",
                }
            )
        presence = svc.presence(staff.id)
        board = []
        if staff.is_admin:
            for ticket, ringing in svc.board(now):
                waited = int((now - ticket.queued_at).total_seconds() // 60)
                board.append(
                    {
                        "number": ticket.number,
                        "service": _label(session, ticket, locale),
                        "since": clock(ticket.queued_at, ctx.tz),
                        "waited": gettext(locale, "{n} min", n=max(0, waited)),
                        "escalated": ticket.escalated_at is not None,
                        "ringing": ringing is not None,
                        "interpreter": _language(session, ticket.interpreter_language, locale),
                    }
                )
            for request, rung in svc.handover_board():
                waited = int((now - request.queued_at).total_seconds() // 60)
                board.append(
                    {
                        "number": gettext(locale, "Hand-over"),
                        "service": _handover_label(session, request, locale),
                        "since": clock(request.queued_at, ctx.tz),
                        "waited": gettext(locale, "{n} min", n=max(0, waited)),
                        "escalated": request.escalated_at is not None,
                        "ringing": rung is not None,
                    }
                )
        session.commit()
        return {
            "presence": presence.value,
            "presence_label": gettext(locale, PRESENCE_LABELS[presence]),
            "offers": offers,
            "board": board,
        }


@router.get("/staff/counter")
def counter_page(request: Request, staff: CurrentStaff, ctx: CtxDep) -> Response:
    locale = page_locale(request)
    state = console_state(ctx, counter_settings(request), staff.id, locale)
    assert state is not None
    return console_page(
        request,
        "staff/counter.html",
        staff,
        "counter",
        {
            "state": state,
            "choices": [
                (p.value, PRESENCE_LABELS[p])
                for p in (Presence.AVAILABLE, Presence.AWAY, Presence.OFFLINE)
            ],
            "events_url": "/staff/counter/events",
            "supervisor": staff.is_admin,
        },
    )


async def counter_stream(
    request: Request, ctx: AppContext, settings: CounterSettings, staff_id: int, locale: str
) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MS}\n\n"
    previous: dict[str, Any] | None = None
    seq = quiet = 0
    deadline = monotonic_time.monotonic() + STREAM_SECONDS
    while True:
        try:
            state = await anyio.to_thread.run_sync(console_state, ctx, settings, staff_id, locale)
        except Exception as exc:
            if not is_busy(exc):
                raise
            # A busy database skips this poll; the stream goes on.
            await anyio.sleep(POLL_SECONDS)
            continue
        seq += 1
        if state is None:
            yield _sse("logout", {}, seq)
            return
        if state != previous:
            quiet = 0
            yield _sse("counter", state, seq)
        else:
            quiet += 1
            if quiet >= KEEPALIVE_POLLS:
                quiet = 0
                yield ": keep-alive\n\n"
        previous = state
        if monotonic_time.monotonic() >= deadline or await request.is_disconnected():
            return
        await anyio.sleep(POLL_SECONDS)


@router.get("/staff/counter/events")
async def counter_events(request: Request, ctx: CtxDep) -> Response:
    staff_id = request.session.get("staff_id")
    if not isinstance(staff_id, int):
        raise NotLoggedIn
    return StreamingResponse(
        counter_stream(request, ctx, counter_settings(request), staff_id, page_locale(request)),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


@router.get("/staff/counter/call/{ticket_id}")
def counter_call_page(
    ticket_id: int, request: Request, staff: CurrentStaff, session: ReadSession, ctx: CtxDep
) -> Response:
    """The call with a walk-in this staff member accepted."""
    locale = page_locale(request)
    svc = CounterService(session, ctx.tz, counter_settings(request))
    try:
        ticket = svc.in_call_for(staff, ticket_id)
    except CounterError:
        return console_page(request, "staff/not_found.html", staff, "counter", status_code=404)
    service = session.get(Service, ticket.service_id)
    assert service is not None
    response = console_page(
        request,
        "staff/counter_call.html",
        staff,
        "counter",
        {
            "ticket": ticket,
            "service": named(service, locale),
            "department": named(service.department, locale),
            "messages": call_messages(locale),
            "ticket_url": f"/api/v1/staff/counter/tickets/{ticket.id}/join",
            "handover_url": f"/api/v1/staff/counter/tickets/{ticket.id}/handover",
            "invite_url": f"/api/v1/staff/counter/tickets/{ticket.id}/invite",
            **handover_choices(session, staff, locale),
            "finish_url": f"/api/v1/staff/counter/tickets/{ticket.id}/finish",
            "rtc_config_url": RTC_CONFIG_URL,
            "interp": interpreter_panel(
                session,
                ctx,
                ticket.room_id,
                locale,
                call_url=f"/api/v1/staff/counter/tickets/{ticket.id}/interpreter",
                requested=ticket.interpreter_language,
            ),
        },
    )
    response.headers["Cache-Control"] = "no-store"
    return response
