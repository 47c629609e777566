"""Ways to a booking: a resident's signed manage link, or a staff member's scope."""

from __future__ import annotations

from app.auth.scope import StaffScope
from app.core.context import AppContext
from app.core.tokens import Purpose, TokenInvalid
from scheduler.models import Booking
from scheduler.service import SchedulingService


def booking_from_token(svc: SchedulingService, ctx: AppContext, token: str) -> Booking:
    claims = ctx.links.verify(Purpose.MANAGE, token, ctx.clock.now())
    booking = svc.booking(int(claims["b"]))
    if booking.code != claims.get("c"):
        raise TokenInvalid("booking mismatch")
    return booking


def staff_booking(svc: SchedulingService, scope: StaffScope, code: str) -> Booking:
    """The booking, if it is in the staff member's scope (``Forbidden`` otherwise)."""
    booking = svc.booking_by_code(code)
    scope.require_booking(booking)
    return booking
