"""Domain errors to HTTP answers in the one error envelope, in the caller's language."""

from __future__ import annotations

from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.api.counter import counter_error_response
from app.auth.errors import Forbidden, NotLoggedIn
from app.core.errors import error_body, request_locale
from app.core.i18n import gettext
from app.counter.errors import CounterError
from app.rush.errors import (
    AdmissionExpired,
    AdmissionInvalid,
    AdmissionRequired,
    QueueNotOpen,
    RushError,
)
from scheduler.errors import (
    BookingCancelled,
    BookingNotFound,
    CalendarParseError,
    ChangeWindowClosed,
    InvalidBookingRequest,
    SchedulerError,
    SlotUnavailable,
)

_STATUS: dict[type[SchedulerError], int] = {
    SlotUnavailable: 409,
    BookingNotFound: 404,
    BookingCancelled: 409,
    ChangeWindowClosed: 409,
    InvalidBookingRequest: 422,
    CalendarParseError: 422,
}

_MESSAGES: dict[type[Exception], str] = {
    SlotUnavailable: "That time is no longer available. Please choose another time.",
    BookingNotFound: "The booking was not found.",
    BookingCancelled: "This booking has been cancelled.",
    InvalidBookingRequest: "The request is not valid.",
    CalendarParseError: "The imported calendar could not be read.",
}


def _local(request: Request, value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone(request.app.state.ctx.tz).strftime("%Y-%m-%d %H:%M")
    return str(value)


# Seconds an API client without a valid admission waits before taking a place.
QUEUE_RETRY_AFTER = 5

_RUSH_MESSAGES: dict[str, str] = {
    AdmissionRequired.code: "Bookings for this service go through a queue. "
    "Please take a place in the queue first.",
    AdmissionInvalid.code: "This admission is not valid. Please take a place in the queue.",
    AdmissionExpired.code: "Your time to book has run out. Please take a new place in the queue.",
    "admission-used": "This admission has already been used for a booking.",
    "fully-booked": "Bookings for this service are closed: it is fully booked.",
    QueueNotOpen.code: "Bookings for this service have not opened yet.",
    "not-rush": "This service has no booking queue. Please book directly.",
}


def rush_error_response(request: Request, exc: RushError) -> JSONResponse:
    """429 (take a place first: ``Retry-After`` and a ``Link`` to the queue) or 409."""
    locale = request_locale(request)
    message = gettext(locale, _RUSH_MESSAGES.get(exc.code, "The request is not valid."))
    headers: dict[str, str] = {}
    status = 409
    if isinstance(exc, AdmissionRequired):
        status = 429
        headers["Retry-After"] = str(QUEUE_RETRY_AFTER)
        headers["Link"] = f'</api/v1/rush/services/{exc.service_id}/tickets>; rel="queue"'
    elif isinstance(exc, QueueNotOpen):
        now = request.app.state.ctx.clock.now()
        headers["Retry-After"] = str(max(1, int((exc.opens_at - now).total_seconds()) + 1))
    return JSONResponse(error_body(exc.code, message), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(RushError)
    async def _rush(request: Request, exc: RushError) -> JSONResponse:
        return rush_error_response(request, exc)

    @app.exception_handler(SchedulerError)
    async def _scheduler(request: Request, exc: SchedulerError) -> JSONResponse:
        locale = request_locale(request)
        status = next((s for t, s in _STATUS.items() if isinstance(exc, t)), 400)
        if isinstance(exc, ChangeWindowClosed):
            message = gettext(
                locale,
                "It is too late to change this booking online (changes close at {cutoff}). "
                "Please call the department.",
                cutoff=_local(request, exc.args[0]) if exc.args else "",
            )
        else:
            message = gettext(locale, _MESSAGES.get(type(exc), "The request is not valid."))
        fields = None
        field = getattr(exc, "field", None)
        if field:
            detail = str(exc.args[0]) if exc.args else ""
            fields = [{"field": field, "message": gettext(locale, detail)}]
        return JSONResponse(error_body(exc.code, message, fields), status_code=status)

    @app.exception_handler(CounterError)
    async def _counter(request: Request, exc: CounterError) -> JSONResponse:
        # A refused queue or routing action. Nothing was committed: the request's
        # writer session rolls back when it closes.
        return counter_error_response(exc, request_locale(request))

    @app.exception_handler(NotLoggedIn)
    async def _login(request: Request, exc: NotLoggedIn) -> JSONResponse:
        return JSONResponse(
            error_body("not-logged-in", gettext(request_locale(request), "Please log in.")),
            status_code=401,
        )

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> JSONResponse:
        return JSONResponse(
            error_body(
                "forbidden", gettext(request_locale(request), "You are not allowed to do this.")
            ),
            status_code=403,
        )
