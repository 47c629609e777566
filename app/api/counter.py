"""Counter queue API: kiosk tickets, staff presence, offers (ring, accept, decline).

The kiosk side is authorised by the kiosk's own signed link (``/kiosk/{token}``
uses the same token); the staff side by the console login. Every request runs
a routing round (``app.counter``) and commits once, so a lapsed offer moves
on at the next poll of anyone: kiosks and consoles poll every few seconds.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.api.schemas import DbId, IdPath, JoinTicketOut
from app.context import AppContext
from app.counter import CounterError, CounterService, CounterSettings, TicketGone, TicketView
from app.counter_orm import QueueOffer, QueueTicket, TicketStatus
from app.deps import CtxDep, CurrentStaff, Forbidden, LocaleDep, WriteSession
from app.errors import error_body
from app.i18n import gettext
from app.interpreter_calls import InterpreterCallError, InterpreterCalls
from app.kiosk import KioskService, KioskUnavailable
from app.tokens import Purpose
from scheduler.orm import Kiosk, Service, Staff
from scheduler.routing import Presence

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["counter"])

# A call room's tokens outlive any realistic counter call; the room ends when
# staff send ``end``.
CALL_TICKET_TTL = timedelta(hours=2)

_MESSAGES: dict[str, tuple[int, str]] = {
    "service-not-at-kiosk": (422, "This service is not offered at the kiosk."),
    "ticket-gone": (409, "This ticket is no longer waiting."),
    "offer-gone": (409, "This call has already been answered or is no longer waiting."),
    "outside-staffed-hours": (
        409,
        "Staff are not available at this time. Please book a time for a consultation.",
    ),
    "unknown-interpreter-language": (422, "Interpreting in this language is not offered."),
}


def _json(model: BaseModel, status: int = 200) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), status_code=status)


def counter_settings(request: Request) -> CounterSettings:
    settings: CounterSettings | None = getattr(request.app.state, "counter_settings", None)
    if settings is None:
        settings = CounterSettings()
        request.app.state.counter_settings = settings
    return settings


def _error(exc: CounterError, locale: str) -> JSONResponse:
    status, message = _MESSAGES.get(exc.code, (409, "The request could not be completed."))
    return JSONResponse(error_body(exc.code, gettext(locale, message)), status_code=status)


def _service(request: Request, ctx: AppContext, session: WriteSession) -> CounterService:
    return CounterService(session, ctx.tz, counter_settings(request))


def _kiosk(ctx: AppContext, session: WriteSession, token: str, now: datetime) -> Kiosk:
    try:
        return KioskService(session, ctx.tz).kiosk_from_token(ctx.tokens, token, now)
    except KioskUnavailable:
        raise Forbidden from None


def call_ticket(ctx: AppContext, room: str, role: str, pid: str, name: str) -> JoinTicketOut:
    expires = ctx.clock.now() + CALL_TICKET_TTL
    token = ctx.tokens.issue(
        Purpose.JOIN, {"room": room, "role": role, "pid": pid, "name": name}, expires=expires
    )
    return JoinTicketOut(
        room=room,
        role=role,
        participant=pid,
        token=token,
        signaling_url=ctx.settings.signaling_url(),
        expires=expires,
    )


def kiosk_participant(kiosk: Kiosk) -> str:
    # The same id as a booked kiosk call (web.pages.kiosk_call.participant).
    return f"kiosk:{kiosk.id}"


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
    estimate_minutes: int | None
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
        interpreter_language=ticket.interpreter_language,
        call=call,
    )


@router.post("/kiosk/{token}/tickets", status_code=201, response_model=TicketOut)
def take_ticket(
    token: str,
    body: TicketIn,
    request: Request,
    ctx: CtxDep,
    session: WriteSession,
    locale: LocaleDep,
) -> Response:
    now = ctx.clock.now()
    kiosk = _kiosk(ctx, session, token, now)
    svc = _service(request, ctx, session)
    try:
        ticket = svc.take_ticket(
            kiosk, body.service_id, now, interpreter_language=body.interpreter_language
        )
    except CounterError as exc:
        session.rollback()
        return _error(exc, locale)
    out = ticket_out(ctx, kiosk, svc.view(ticket, now))
    session.commit()
    return _json(out, 201 if request.method == "POST" else 200)


@router.get("/kiosk/{token}/tickets/{ticket_id}", response_model=TicketOut)
def ticket_status(
    token: str,
    ticket_id: IdPath,
    request: Request,
    ctx: CtxDep,
    session: WriteSession,
    locale: LocaleDep,
) -> Response:
    now = ctx.clock.now()
    kiosk = _kiosk(ctx, session, token, now)
    svc = _service(request, ctx, session)
    try:
        svc.route(now)
        ticket = svc.ticket(kiosk, ticket_id)
    except CounterError as exc:
        return _error(exc, locale)
    out = ticket_out(ctx, kiosk, svc.view(ticket, now))
    session.commit()
    return _json(out, 201 if request.method == "POST" else 200)


@router.delete("/kiosk/{token}/tickets/{ticket_id}", status_code=204)
def leave_queue(
    token: str,
    ticket_id: IdPath,
    request: Request,
    ctx: CtxDep,
    session: WriteSession,
    locale: LocaleDep,
) -> Response:
    now = ctx.clock.now()
    kiosk = _kiosk(ctx, session, token, now)
    try:
        _service(request, ctx, session).leave(kiosk, ticket_id, now)
    except CounterError as exc:
        session.rollback()
        return _error(exc, locale)
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
    expires_at: datetime


class ConsoleOut(BaseModel):
    presence: str
    offers: list[OfferOut]


def _offer_out(session: WriteSession, offer: QueueOffer, locale: str) -> OfferOut:
    ticket = session.get(QueueTicket, offer.ticket_id)
    assert ticket is not None
    service = session.get(Service, ticket.service_id)
    assert service is not None
    return OfferOut(
        id=offer.id,
        ticket_id=ticket.id,
        number=ticket.number,
        service=service.name_en if locale == "en" else service.name_ja,
        expires_at=offer.expires_at,
    )


def _console(
    svc: CounterService, session: WriteSession, staff: Staff, now: datetime, locale: str
) -> ConsoleOut:
    offers = svc.ringing_for(staff, now)
    return ConsoleOut(
        presence=svc.presence(staff.id).value,
        offers=[_offer_out(session, o, locale) for o in offers],
    )


@router.put("/staff/presence")
def set_presence(
    body: PresenceIn,
    request: Request,
    staff: CurrentStaff,
    ctx: CtxDep,
    session: WriteSession,
    locale: LocaleDep,
) -> ConsoleOut:
    now = ctx.clock.now()
    svc = _service(request, ctx, session)
    svc.set_presence(staff, Presence(body.status), now)
    out = _console(svc, session, staff, now, locale)
    session.commit()
    return out


@router.get("/staff/offers")
def my_offers(
    request: Request, staff: CurrentStaff, ctx: CtxDep, session: WriteSession, locale: LocaleDep
) -> ConsoleOut:
    """Presence and the offers ringing at this staff member (polled by the console)."""
    now = ctx.clock.now()
    svc = _service(request, ctx, session)
    out = _console(svc, session, staff, now, locale)
    session.commit()
    return out


@router.post(
    "/staff/offers/{offer_id}/accept",
    response_model=JoinTicketOut,
    responses={409: {"model": dict}},
)
def accept_offer(
    offer_id: IdPath,
    request: Request,
    staff: CurrentStaff,
    ctx: CtxDep,
    session: WriteSession,
    locale: LocaleDep,
) -> Response:
    """Accept a ringing call: a staff token for its room (the resident waits there).

    When the resident asked for an interpreter at the kiosk, one is called now
    (the call page shows who, or that nobody of that language is free)."""
    now = ctx.clock.now()
    try:
        ticket = _service(request, ctx, session).accept(staff, offer_id, now)
    except CounterError as exc:
        session.rollback()
        return _error(exc, locale)
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
    request: Request,
    staff: CurrentStaff,
    ctx: CtxDep,
    session: WriteSession,
    locale: LocaleDep,
) -> Response:
    try:
        _service(request, ctx, session).decline(staff, offer_id, ctx.clock.now())
    except CounterError as exc:
        session.rollback()
        return _error(exc, locale)
    session.commit()
    return Response(status_code=204)


@router.post(
    "/staff/counter/tickets/{ticket_id}/join",
    response_model=JoinTicketOut,
    responses={409: {"model": dict}},
)
def rejoin(
    ticket_id: IdPath,
    request: Request,
    staff: CurrentStaff,
    ctx: CtxDep,
    session: WriteSession,
    locale: LocaleDep,
) -> Response:
    """A fresh staff token for a walk-in call this staff member accepted (reconnects)."""
    try:
        ticket = _service(request, ctx, session).in_call_for(staff, ticket_id)
    except TicketGone as exc:
        return _error(exc, locale)
    return _json(call_ticket(ctx, ticket.room_id, "staff", f"staff:{staff.id}", staff.display_name))


@router.post("/staff/counter/tickets/{ticket_id}/finish", status_code=204)
def finish_call(
    ticket_id: IdPath,
    request: Request,
    staff: CurrentStaff,
    ctx: CtxDep,
    session: WriteSession,
    locale: LocaleDep,
) -> Response:
    try:
        _service(request, ctx, session).finish(staff, ticket_id, ctx.clock.now())
    except CounterError as exc:
        session.rollback()
        return _error(exc, locale)
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
    request: Request,
    staff: CurrentStaff,
    ctx: CtxDep,
    session: WriteSession,
) -> list[BoardRow]:
    """Every waiting call in serving order; ``escalated`` past the set wait (admins)."""
    if not staff.is_admin:
        raise Forbidden
    now = ctx.clock.now()
    rows = _service(request, ctx, session).board(now)
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
