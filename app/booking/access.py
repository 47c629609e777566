"""A resident's way in: the booking named by a signed manage link."""

from __future__ import annotations

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
