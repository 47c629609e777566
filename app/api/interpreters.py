"""Interpreters: the languages a resident can ask for, who is free now, calling one.

``POST /api/v1/staff/counter/tickets/{id}/interpreter`` and
``POST /api/v1/staff/bookings/{code}/interpreter`` call the first free
interpreter of a language into that call's room (``app.counter.interpreters``);
``DELETE /api/v1/staff/interpreter-calls/{id}`` withdraws the request.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from app.api.call_team import may_join
from app.auth.deps import CurrentStaff
from app.auth.errors import Forbidden
from app.core.deps import CtxDep, LocaleDep, ReadSession, WriteSession
from app.core.errors import error_body
from app.core.i18n import gettext
from app.core.params import IdPath
from app.counter.errors import CounterError
from app.counter.interpreters import (
    Called,
    InterpreterCallError,
    InterpreterCalls,
    NoInterpreterFree,
)
from app.counter.models import InterpreterCall
from app.counter.settings import CounterSettings
from app.counter.tickets import Tickets
from scheduler.interpreter_service import languages
from scheduler.models import Booking, InterpreterLanguage, Staff

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["interpreters"])


class LanguageOut(BaseModel):
    code: str
    name: str
    name_ja: str
    name_en: str
    # In the language's own script (Português, 中文, 手話): what the kiosk shows.
    name_native: str


class AvailableInterpreterOut(BaseModel):
    id: int
    name: str
    language: str
    free_from: datetime
    free_until: datetime
    # The role of the join token to invite them with (docs/signaling.md).
    role: str = "interpreter"


def language_out(row: InterpreterLanguage, locale: str) -> LanguageOut:
    return LanguageOut(
        code=row.code,
        name=row.name_ja if locale == "ja" else row.name_en,
        name_ja=row.name_ja,
        name_en=row.name_en,
        name_native=row.label,
    )


@router.get("/interpreter-languages")
def interpreter_languages(session: ReadSession, locale: LocaleDep) -> list[LanguageOut]:
    """Languages an interpreter can be booked for (``jsl``: Japanese Sign Language)."""
    return [language_out(row, locale) for row in languages(session) if row.active]


@router.get("/staff/interpreters/available")
def available_interpreters(
    staff: CurrentStaff,
    session: ReadSession,
    ctx: CtxDep,
    language: Annotated[str, Query(min_length=1, max_length=20)],
    minutes: Annotated[int, Query(ge=5, le=240)] = 30,
) -> list[AvailableInterpreterOut]:
    """Interpreters of ``language`` working, without a booking for the next
    ``minutes`` and not in another on-demand call: for a call that needs one
    now (staff only)."""
    found = InterpreterCalls(session, ctx, minutes=minutes).available(language, ctx.clock.now())
    return [
        AvailableInterpreterOut(
            id=f.interpreter_id,
            name=f.name,
            language=f.language,
            free_from=f.window.start.astimezone(ctx.tz),
            free_until=f.window.end.astimezone(ctx.tz),
        )
        for f in found
    ]


# -- calling an interpreter into a call now ---------------------------------------------------

_MESSAGES: dict[str, tuple[int, str]] = {
    "unknown-interpreter-language": (422, "Interpreting in this language is not offered."),
    "no-interpreter-free": (409, "No interpreter of this language is free now."),
    "interpreter-already-called": (409, "An interpreter has already been called into this call."),
    "interpreter-call-gone": (409, "This interpreter request has already ended."),
    "ticket-gone": (409, "This ticket is no longer waiting."),
}


class CallInterpreterIn(BaseModel):
    language: str = Field(min_length=1, max_length=20)


class InterpreterCallOut(BaseModel):
    id: int
    interpreter_id: int
    interpreter_name: str
    language: str
    language_name: str
    called_at: datetime
    # Where to withdraw the request (DELETE).
    cancel_url: str


def interpreter_call_out(
    session: ReadSession | WriteSession, call: InterpreterCall, name: str, locale: str
) -> InterpreterCallOut:
    row = session.get(InterpreterLanguage, call.language)
    return InterpreterCallOut(
        id=call.id,
        interpreter_id=call.interpreter_id,
        interpreter_name=name,
        language=call.language,
        language_name=language_out(row, locale).name if row else call.language,
        called_at=call.called_at,
        cancel_url=f"/api/v1/staff/interpreter-calls/{call.id}",
    )


def _call_error(exc: InterpreterCallError | CounterError, locale: str) -> JSONResponse:
    status, message = _MESSAGES.get(exc.code, (409, "The request could not be completed."))
    body = error_body(exc.code, gettext(locale, message))
    if isinstance(exc, NoInterpreterFree):
        # Which languages someone could interpret now, for the staff page.
        body["error"]["free_languages"] = [
            language_out(row, locale).model_dump() for row in exc.free_languages
        ]
    return JSONResponse(body, status_code=status)


def _called(session: WriteSession, called: Called, locale: str) -> JSONResponse:
    out = interpreter_call_out(session, called.call, called.interpreter.name, locale)
    return JSONResponse(out.model_dump(mode="json"), status_code=201)


@router.post(
    "/staff/counter/tickets/{ticket_id}/interpreter",
    status_code=201,
    response_model=InterpreterCallOut,
    responses={409: {"model": dict}, 422: {"model": dict}},
)
def call_interpreter_for_ticket(
    ticket_id: IdPath,
    body: CallInterpreterIn,
    request: Request,
    staff: CurrentStaff,
    ctx: CtxDep,
    session: WriteSession,
    locale: LocaleDep,
) -> Response:
    """Call an interpreter into the walk-in call this staff member is in."""
    now = ctx.clock.now()
    try:
        ticket = Tickets(session, ctx.tz, CounterSettings.of(ctx.settings)).in_call_for(
            staff, ticket_id
        )
        called = InterpreterCalls(session, ctx).call_for_ticket(ticket, body.language, now, staff)
    except (InterpreterCallError, CounterError) as exc:
        session.rollback()
        return _call_error(exc, locale)
    response = _called(session, called, locale)
    session.commit()
    return response


def _booking_for(session: WriteSession, code: str, staff: Staff) -> Booking | None:
    booking = session.scalar(select(Booking).where(Booking.code == code))
    if booking is not None and not may_join(staff, booking):
        raise Forbidden
    return booking


@router.post(
    "/staff/bookings/{code}/interpreter",
    status_code=201,
    response_model=InterpreterCallOut,
    responses={404: {"model": dict}, 409: {"model": dict}, 422: {"model": dict}},
)
def call_interpreter_for_booking(
    code: str,
    body: CallInterpreterIn,
    staff: CurrentStaff,
    ctx: CtxDep,
    session: WriteSession,
    locale: LocaleDep,
) -> Response:
    """Call an interpreter now into a booked call (one that was booked without one)."""
    booking = _booking_for(session, code, staff)
    if booking is None:
        return JSONResponse(
            error_body("booking-not-found", gettext(locale, "The booking was not found.")),
            status_code=404,
        )
    try:
        called = InterpreterCalls(session, ctx).call_for_booking(
            booking, body.language, ctx.clock.now(), staff
        )
    except InterpreterCallError as exc:
        session.rollback()
        return _call_error(exc, locale)
    response = _called(session, called, locale)
    session.commit()
    return response


def _may_cancel(session: WriteSession, staff: Staff, call: InterpreterCall) -> bool:
    if staff.is_admin or call.called_by == staff.id:
        return True
    if call.booking_id is not None:
        booking = session.get(Booking, call.booking_id)
        return booking is not None and may_join(staff, booking)
    return False


@router.delete("/staff/interpreter-calls/{call_id}", status_code=204)
def cancel_interpreter_call(
    call_id: IdPath, staff: CurrentStaff, ctx: CtxDep, session: WriteSession, locale: LocaleDep
) -> Response:
    """Withdraw an interpreter request: they are free again and told so by mail."""
    call = session.get(InterpreterCall, call_id)
    if call is None or not _may_cancel(session, staff, call):
        raise Forbidden
    try:
        InterpreterCalls(session, ctx).cancel(call, ctx.clock.now())
    except InterpreterCallError as exc:
        session.rollback()
        return _call_error(exc, locale)
    session.commit()
    return Response(status_code=204)
