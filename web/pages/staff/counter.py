"""The staff console's counter: presence, incoming calls with a ring, the
walk-in call screen, and (for administrators) the supervisor's queue board.

Presence and answers go through the counter API (``app.api.counter``); this
module renders the pages and streams the console's state over Server-Sent
Events, like today's queue: every poll runs a routing round, so an offer that
rang out moves on even when no kiosk is polling.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from fastapi import APIRouter, Request, Response

from app.auth.deps import CurrentStaff
from app.auth.errors import NotLoggedIn
from app.auth.sessions import stream_staff_id
from app.core.context import AppContext
from app.core.deps import CtxDep, ReadSession, WriteSession
from app.core.i18n import gettext
from app.counter.desk import Desk
from app.counter.errors import CounterError
from app.counter.handover import Handovers
from app.counter.models import HandoverRequest, QueueTicket, RingKind
from app.counter.settings import CounterSettings
from app.counter.tickets import Tickets
from app.counter.views import handover_offer_out, ticket_place
from app.tracker.wrapup import recent_records, took_part
from scheduler.errors import BookingNotFound
from scheduler.models import Department, InterpreterLanguage, Service, Staff
from scheduler.routing import Presence
from web.pages.call.pages import RTC_CONFIG_URL, call_messages
from web.pages.staff.auth import StaffPageRoute, console_page
from web.pages.staff.format import clock, named
from web.pages.staff.handover_form import handover_choices
from web.pages.staff.interpreter import interpreter_panel
from web.pages.staff.records import summary, wrapup_redirect
from web.sse import Event, Step, event_stream
from web.templating import page_locale

log = logging.getLogger(__name__)
router = APIRouter(route_class=StaffPageRoute, include_in_schema=False)

RECENT_ON_CONSOLE = 5

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


def console_state(ctx: AppContext, staff_id: int, locale: str) -> dict[str, Any] | None:
    """Presence, ringing offers and (for administrators) the board, after a routing round."""
    settings = CounterSettings.of(ctx.settings)
    with ctx.writer_sessions() as session:
        staff = session.get(Staff, staff_id)
        if staff is None or not staff.active:
            return None
        now = ctx.clock.now()
        desk = Desk(session, ctx.tz, settings)
        offers = []
        for ring in desk.ringing(staff, now):
            if ring.kind == RingKind.TICKET:
                ticket = session.get(QueueTicket, ring.subject_id)
                assert ticket is not None
                kiosk, branch = ticket_place(session, ticket, locale)
                # Kiosk names often say their branch already (北支所 リモート窓口).
                place = kiosk if not branch or kiosk.startswith(branch) else f"{branch} {kiosk}"
                offers.append(
                    {
                        "id": ring.id,
                        "ticket": ticket.id,
                        "number": ticket.number,
                        "service": _label(session, ticket, locale),
                        "kiosk": kiosk,
                        "branch": branch,
                        "text": gettext(
                            locale,
                            "Incoming call: ticket {number}, {service}, at {place}",
                            number=ticket.number,
                            service=_label(session, ticket, locale),
                            place=place,
                        ),
                        "context": "",
                        "answer_url": f"/api/v1/staff/offers/{ring.id}",
                    }
                )
                continue
            out = handover_offer_out(session, ring, locale)
            offers.append(
                {
                    "id": ring.id,
                    "ticket": out.ticket_id,
                    "kind": out.kind,
                    "text": out.text,
                    "context": out.context,
                    "answer_url": f"/api/v1/staff/handover-offers/{ring.id}",
                }
            )
        presence = desk.presence.of(staff.id)
        board = []
        if staff.is_admin:
            for ticket, ringing in Tickets(session, ctx.tz, settings).board(now):
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
            for request, rung in Handovers(session, ctx.tz, settings).board():
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
    state = console_state(ctx, staff.id, locale)
    assert state is not None
    with ctx.sessions() as session:
        # Each recent call leads to its session record (and wrap-up).
        me = session.get(Staff, staff.id)
        assert me is not None
        recent = [
            summary(session, ctx, r, locale)
            for r in recent_records(session, me, mine=True, limit=RECENT_ON_CONSOLE)
        ]
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
            "recent": recent,
            "supervisor": staff.is_admin,
        },
    )


def counter_step(ctx: AppContext, staff_id: int, locale: str) -> Step:
    """The console's whole state, whenever it changed."""
    previous: dict[str, Any] | None = None

    def step() -> list[Event] | None:
        nonlocal previous
        state = console_state(ctx, staff_id, locale)
        if state is None:
            return None
        events = [Event("counter", state)] if state != previous else []
        previous = state
        return events

    return step


@router.get("/staff/counter/events")
async def counter_events(request: Request, ctx: CtxDep) -> Response:
    staff_id = await anyio.to_thread.run_sync(stream_staff_id, request, ctx)
    if staff_id is None:
        raise NotLoggedIn
    return event_stream(request, counter_step(ctx, staff_id, page_locale(request)))


@router.get("/staff/counter/call/{ticket_id}")
def counter_call_page(
    ticket_id: int, request: Request, staff: CurrentStaff, session: ReadSession, ctx: CtxDep
) -> Response:
    """The call with a walk-in this staff member accepted; once their part of
    it has ended (finished, or handed over), only the way to its wrap-up."""
    locale = page_locale(request)
    svc = Tickets(session, ctx.tz, CounterSettings.of(ctx.settings))
    ended = False
    try:
        ticket = svc.in_call_for(staff, ticket_id)
    except CounterError:
        held = session.get(QueueTicket, ticket_id)
        if held is None or not took_part(session, staff.id, held.room_id):
            return console_page(request, "staff/not_found.html", staff, "counter", status_code=404)
        ticket, ended = held, True
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
            "wrapup_url": f"/staff/counter/call/{ticket.id}/wrapup",
            "ended": ended,
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


@router.get("/staff/counter/call/{ticket_id}/wrapup")
def counter_call_wrapup(
    ticket_id: int, staff: CurrentStaff, session: WriteSession, ctx: CtxDep
) -> Response:
    """The wrap-up of this walk-in's call (each staff member who took part)."""
    ticket = session.get(QueueTicket, ticket_id)
    if ticket is None:
        raise BookingNotFound(str(ticket_id))
    return wrapup_redirect(session, ctx, staff, ticket.room_id)
