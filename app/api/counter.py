"""Counter queue API: kiosk tickets, staff presence, offers (ring, accept, decline).

The kiosk side is authorised by the kiosk's own signed link (``/kiosk/{token}``
uses the same token); the staff side by the console login. Every request runs
a routing round (``app.counter.rounds``) and commits once, so a lapsed offer moves
on at the next poll of anyone: kiosks and consoles poll every few seconds.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from app.api.schemas import DbId
from app.auth.deps import CurrentStaff
from app.auth.errors import Forbidden
from app.calls.tickets import JoinTicketOut, call_ticket, kiosk_participant
from app.core.context import AppContext
from app.core.deps import CtxDep, LocaleDep, WriteSession
from app.core.errors import error_body
from app.core.i18n import gettext
from app.core.params import IdPath
from app.core.tokens import Purpose
from app.counter.desk import Desk
from app.counter.errors import CounterError
from app.counter.handover import Handovers
from app.counter.interpreters import InterpreterCallError, InterpreterCalls
from app.counter.models import (
    HandoverKind,
    HandoverRequest,
    QueueTicket,
    RingKind,
    RingOffer,
    TicketStatus,
)
from app.counter.settings import CounterSettings
from app.counter.tickets import Tickets, TicketView
from app.counter.views import (
    HandoverOfferOut,
    department_slug,
    handover_offer_out,
    ticket_place,
)
from app.kiosk.service import KioskService, KioskUnavailable
from scheduler.models import Booking, Kiosk, Service, Staff
from scheduler.routing import Presence

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["counter"])


_MESSAGES: dict[str, tuple[int, str]] = {
    "service-not-at-kiosk": (422, "This service is not offered at the kiosk."),
    "ticket-gone": (409, "This ticket is no longer waiting."),
    "ticket-not-found": (404, "This ticket was not found."),
    "offer-gone": (409, "This call has already been answered or is no longer waiting."),
    "handover-invalid": (422, "Choose a department, or a colleague, to hand over to."),
    "outside-staffed-hours": (
        409,
        "Staff are not available at this time. Please book a time for a consultation.",
    ),
    "unknown-interpreter-language": (422, "Interpreting in this language is not offered."),
}
# The colleague's link to a booked call's page after accepting a hand-over.
HANDOVER_PAGE_TTL = timedelta(minutes=30)


def _json(model: BaseModel, status: int = 200) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), status_code=status)


def counter_error_response(exc: CounterError, locale: str) -> JSONResponse:
    """The JSON answer to a refused counter action (installed by app.core.errors)."""
    status, message = _MESSAGES.get(exc.code, (409, "The request could not be completed."))
    return JSONResponse(error_body(exc.code, gettext(locale, message)), status_code=status)


def _tickets(ctx: AppContext, session: Session) -> Tickets:
    return Tickets(session, ctx.tz, CounterSettings.of(ctx.settings))


def _handovers(ctx: AppContext, session: Session) -> Handovers:
    return Handovers(session, ctx.tz, CounterSettings.of(ctx.settings))


def _desk(ctx: AppContext, session: Session) -> Desk:
    return Desk(session, ctx.tz, CounterSettings.of(ctx.settings))


def _kiosk(ctx: AppContext, session: WriteSession, token: str, now: datetime) -> Kiosk:
    try:
        return KioskService(session, ctx.tz).kiosk_from_token(ctx.tokens, token, now)
    except KioskUnavailable:
        raise Forbidden from None


# -- the kiosk's side ---------------------------------------------------------------------------


class TicketIn(BaseModel):
    service_id: DbId
    # An interpreter language (``GET /api/v1/interpreter-languages``), if needed.
    interpreter_language: str | None = Field(default=None, min_length=1, max_length=20)


class TicketOut(BaseModel):
    id: int
    number: int
    status: str
    position: int | None
    # The expected wait; null while waiting when nobody qualified is available
    # or in a call (``staffed`` false): then ``expected_at`` says when the next
    # qualified staff member's working time starts, if the app knows.
    estimate_minutes: int | None
    staffed: bool = True
    expected_at: datetime | None = None
    interpreter_language: str | None = None
    # Only once a staff member accepted: how the kiosk enters the call room.
    call: JoinTicketOut | None = None


def ticket_out(ctx: AppContext, kiosk: Kiosk, view: TicketView) -> TicketOut:
    ticket = view.ticket
    call = None
    if ticket.status == TicketStatus.IN_CALL:
        call = call_ticket(
            ctx, ticket.room_id, "kiosk", kiosk_participant(kiosk), f"受付番号 {ticket.number}"
        )
    minutes = None
    if view.estimate is not None:
        # Round up: "about 0 minutes" would promise too much.
        minutes = max(1, -(-int(view.estimate.total_seconds()) // 60))
    return TicketOut(
        id=ticket.id,
        number=ticket.number,
        status=ticket.status,
        position=view.position,
        estimate_minutes=minutes,
        staffed=view.staffed or ticket.status != TicketStatus.WAITING,
        expected_at=view.expected_at,
        interpreter_language=ticket.interpreter_language,
        call=call,
    )


@router.post("/kiosk/{token}/tickets", status_code=201, response_model=TicketOut)
def take_ticket(
    token: str,
    body: TicketIn,
    ctx: CtxDep,
    session: WriteSession,
) -> Response:
    now = ctx.clock.now()
    kiosk = _kiosk(ctx, session, token, now)
    svc = _tickets(ctx, session)
    ticket = svc.take(kiosk, body.service_id, now, interpreter_language=body.interpreter_language)
    out = ticket_out(ctx, kiosk, svc.view(ticket, now))
    session.commit()
    return _json(out, 201)


@router.get("/kiosk/{token}/tickets/{ticket_id}", response_model=TicketOut)
def ticket_status(
    token: str,
    ticket_id: IdPath,
    ctx: CtxDep,
    session: WriteSession,
) -> Response:
    now = ctx.clock.now()
    kiosk = _kiosk(ctx, session, token, now)
    svc = _tickets(ctx, session)
    svc.rounds.route(now)
    ticket = svc.of_kiosk(kiosk, ticket_id)
    out = ticket_out(ctx, kiosk, svc.view(ticket, now))
    session.commit()
    return _json(out)


@router.delete("/kiosk/{token}/tickets/{ticket_id}", status_code=204)
def leave_queue(
    token: str,
    ticket_id: IdPath,
    ctx: CtxDep,
    session: WriteSession,
) -> Response:
    now = ctx.clock.now()
    kiosk = _kiosk(ctx, session, token, now)
    _tickets(ctx, session).leave(kiosk, ticket_id, now)
    session.commit()
    return Response(status_code=204)


# -- the staff side -----------------------------------------------------------------------------


class PresenceIn(BaseModel):
    # "in-call" is set by accepting a call, never by hand.
    status: Literal["available", "away", "offline"]


class OfferOut(BaseModel):
    id: int
    ticket_id: IdPath
    number: int
    service: str
    # Where the walk-in is: the kiosk and its branch.
    kiosk: str = ""
    branch: str = ""
    expires_at: datetime


class ConsoleOut(BaseModel):
    presence: str
    offers: list[OfferOut]
    handovers: list[HandoverOfferOut] = []


class AcceptOut(JoinTicketOut):
    # Where the colleague's browser goes next: the call page for this call.
    page: str


def _offer_out(session: WriteSession, offer: RingOffer, locale: str) -> OfferOut:
    ticket = session.get(QueueTicket, offer.subject_id)
    assert ticket is not None
    service = session.get(Service, ticket.service_id)
    assert service is not None
    kiosk, branch = ticket_place(session, ticket, locale)
    return OfferOut(
        id=offer.id,
        ticket_id=ticket.id,
        number=ticket.number,
        service=service.name_en if locale == "en" else service.name_ja,
        kiosk=kiosk,
        branch=branch,
        expires_at=offer.expires_at,
    )


def _console(
    desk: Desk, session: WriteSession, staff: Staff, now: datetime, locale: str
) -> ConsoleOut:
    rings = desk.ringing(staff, now)
    return ConsoleOut(
        presence=desk.presence.of(staff.id).value,
        offers=[_offer_out(session, o, locale) for o in rings if o.kind == RingKind.TICKET],
        handovers=[
            handover_offer_out(session, o, locale) for o in rings if o.kind == RingKind.HANDOVER
        ],
    )


@router.put("/staff/presence")
def set_presence(
    body: PresenceIn,
    staff: CurrentStaff,
    ctx: CtxDep,
    session: WriteSession,
    locale: LocaleDep,
) -> ConsoleOut:
    now = ctx.clock.now()
    desk = _desk(ctx, session)
    desk.set_presence(staff, Presence(body.status), now)
    out = _console(desk, session, staff, now, locale)
    session.commit()
    return out


@router.get("/staff/offers")
def my_offers(
    staff: CurrentStaff, ctx: CtxDep, session: WriteSession, locale: LocaleDep
) -> ConsoleOut:
    """Presence and the offers ringing at this staff member (polled by the console)."""
    now = ctx.clock.now()
    out = _console(_desk(ctx, session), session, staff, now, locale)
    session.commit()
    return out


@router.post(
    "/staff/offers/{offer_id}/accept",
    response_model=JoinTicketOut,
    responses={409: {"model": dict}},
)
def accept_offer(
    offer_id: IdPath,
    staff: CurrentStaff,
    ctx: CtxDep,
    session: WriteSession,
) -> Response:
    """Accept a ringing call: a staff token for its room (the resident waits there).

    When the resident asked for an interpreter at the kiosk, one is called now
    (the call page shows who, or that nobody of that language is free)."""
    now = ctx.clock.now()
    ticket = _tickets(ctx, session).accept(staff, offer_id, now)
    if ticket.interpreter_language is not None:
        try:
            InterpreterCalls(session, ctx).call_for_ticket(
                ticket, ticket.interpreter_language, now, staff
            )
        except InterpreterCallError as exc:
            # The call goes ahead; the staff member can try again from the call page.
            log.info("ticket %s: no interpreter called on accept (%s)", ticket.id, exc.code)
    session.commit()
    return _json(call_ticket(ctx, ticket.room_id, "staff", f"staff:{staff.id}", staff.display_name))


@router.post("/staff/offers/{offer_id}/decline", status_code=204)
def decline_offer(
    offer_id: IdPath,
    staff: CurrentStaff,
    ctx: CtxDep,
    session: WriteSession,
) -> Response:
    _tickets(ctx, session).decline(staff, offer_id, ctx.clock.now())
    session.commit()
    return Response(status_code=204)


@router.post("/staff/presence/heartbeat", status_code=204)
def presence_heartbeat(staff: CurrentStaff, ctx: CtxDep, session: WriteSession) -> Response:
    """The call page's poll: a staff member in a call is at their desk, so the
    console's timeout does not set them offline."""
    _desk(ctx, session).heartbeat(staff, ctx.clock.now())
    session.commit()
    return Response(status_code=204)


def accepted_ticket(
    ctx: AppContext, session: Session, staff: Staff, req: HandoverRequest
) -> AcceptOut:
    """How the colleague enters the same room: a hand-over ticket (warm) or the
    staff seat (cold), or an observer's seat for an invitation."""
    pid = f"staff:{staff.id}"
    booking = session.get(Booking, req.booking_id) if req.booking_id else None
    if req.kind == HandoverKind.INVITE:
        pid = f"observer:staff-{staff.id}"
        call = call_ticket(ctx, req.room_id, "observer", pid, staff.display_name)
        if booking is not None:
            # The booking's join window, like the invitation's link.
            token = ctx.links.join_token(booking, role="observer", pid=pid, name=staff.display_name)
            call = call.model_copy(update={"token": token})
        return AcceptOut(**call.model_dump(), page=f"/join/{call.token}")
    warm = req.mode == "warm"
    call = call_ticket(ctx, req.room_id, "staff", pid, staff.display_name, handover=warm)
    if booking is not None:
        link = ctx.tokens.issue(
            Purpose.HANDOVER,
            {"c": booking.code, "to": staff.id, "m": req.mode},
            expires=ctx.clock.now() + HANDOVER_PAGE_TTL,
        )
        page = f"/staff/call/{booking.code}?handover={link}"
    else:
        page = f"/staff/counter/call/{req.ticket_id}"
    return AcceptOut(**call.model_dump(), page=page)


@router.post(
    "/staff/handover-offers/{offer_id}/accept",
    response_model=AcceptOut,
    responses={409: {"model": dict}},
)
def accept_handover(
    offer_id: IdPath,
    staff: CurrentStaff,
    ctx: CtxDep,
    session: WriteSession,
) -> Response:
    """Accept a ringing hand-over: a join ticket for the same room."""
    now = ctx.clock.now()
    req = _handovers(ctx, session).accept(staff, offer_id, now)
    out = accepted_ticket(ctx, session, staff, req)
    session.commit()
    return _json(out)


@router.post("/staff/handover-offers/{offer_id}/decline", status_code=204)
def decline_handover(
    offer_id: IdPath,
    staff: CurrentStaff,
    ctx: CtxDep,
    session: WriteSession,
) -> Response:
    _handovers(ctx, session).decline(staff, offer_id, ctx.clock.now())
    session.commit()
    return Response(status_code=204)


class CounterHandoverIn(BaseModel):
    mode: Literal["warm", "cold"]
    department_id: DbId | None = None
    service_id: DbId | None = None
    staff_id: DbId | None = None
    note: str = Field(default="", max_length=2000)


class HandoverRequestOut(BaseModel):
    request_id: int
    mode: str
    department: str | None  # for the signaling `transfer`
    target: str | None


@router.post(
    "/staff/counter/tickets/{ticket_id}/handover",
    status_code=201,
    response_model=HandoverRequestOut,
    responses={409: {"model": dict}, 422: {"model": dict}},
)
def handover_walk_in(
    ticket_id: IdPath,
    body: CounterHandoverIn,
    staff: CurrentStaff,
    ctx: CtxDep,
    session: WriteSession,
) -> Response:
    """Hand a walk-in call over to a department (routed to its qualified
    staff) or to one named colleague (rung in their console)."""
    ticket = _tickets(ctx, session).in_call_for(staff, ticket_id)
    req = _handovers(ctx, session).request(
        staff,
        room_id=ticket.room_id,
        ticket_id=ticket.id,
        mode=body.mode,
        department_id=body.department_id,
        service_id=body.service_id,
        target_staff_id=body.staff_id,
        context=body.note,
        now=ctx.clock.now(),
    )
    out = HandoverRequestOut(
        request_id=req.id,
        mode=req.mode,
        department=department_slug(session, req),
        target=f"staff:{req.target_staff_id}" if req.target_staff_id else None,
    )
    session.commit()
    return _json(out, 201)


@router.post(
    "/staff/counter/tickets/{ticket_id}/join",
    response_model=JoinTicketOut,
    responses={409: {"model": dict}},
)
def rejoin(
    ticket_id: IdPath,
    staff: CurrentStaff,
    ctx: CtxDep,
    session: WriteSession,
) -> Response:
    """A fresh staff token for a walk-in call this staff member accepted (reconnects)."""
    ticket = _tickets(ctx, session).in_call_for(staff, ticket_id)
    warm = _handovers(ctx, session).warm_handover_of(staff, ticket.id)
    return _json(
        call_ticket(
            ctx, ticket.room_id, "staff", f"staff:{staff.id}", staff.display_name, handover=warm
        )
    )


@router.post("/staff/counter/tickets/{ticket_id}/finish", status_code=204)
def finish_call(
    ticket_id: IdPath,
    staff: CurrentStaff,
    ctx: CtxDep,
    session: WriteSession,
) -> Response:
    _tickets(ctx, session).finish(staff, ticket_id, ctx.clock.now())
    session.commit()
    return Response(status_code=204)


class BoardRow(BaseModel):
    ticket_id: int
    number: int
    service_id: int
    # The interpreter language the resident asked for, if any.
    interpreter_language: str | None
    queued_at: datetime
    waited_minutes: int
    escalated: bool
    ringing_staff_id: int | None


@router.get("/staff/counter/board")
def supervisor_board(
    staff: CurrentStaff,
    ctx: CtxDep,
    session: WriteSession,
) -> list[BoardRow]:
    """Every waiting call in serving order; ``escalated`` past the set wait (admins)."""
    if not staff.is_admin:
        raise Forbidden
    now = ctx.clock.now()
    rows = _tickets(ctx, session).board(now)
    session.commit()
    return [
        BoardRow(
            ticket_id=t.id,
            number=t.number,
            service_id=t.service_id,
            interpreter_language=t.interpreter_language,
            queued_at=t.queued_at,
            waited_minutes=max(0, int((now - t.queued_at).total_seconds() // 60)),
            escalated=t.escalated_at is not None,
            ringing_staff_id=o.staff_id if o else None,
        )
        for t, o in rows
    ]
