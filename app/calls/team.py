"""Who may carry on a handed-over call: a hand-over link checked against
the staff member who opens it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.errors import Forbidden
from app.core.context import AppContext
from app.core.tokens import Purpose, TokenError
from scheduler.errors import BookingNotFound
from scheduler.models import Booking, Staff


def handover_claims(ctx: AppContext, token: str, staff: Staff) -> dict[str, Any]:
    """The hand-over token's claims if it is valid and meant for ``staff``."""
    try:
        claims = ctx.tokens.verify(Purpose.HANDOVER, token, now=ctx.clock.now())
    except TokenError:
        raise Forbidden from None
    if claims.get("to") != staff.id or not isinstance(claims.get("c"), str):
        raise Forbidden
    return claims


def handover_booking(session: Session, ctx: AppContext, token: str, staff: Staff) -> Booking:
    claims = handover_claims(ctx, token, staff)
    booking = session.scalar(select(Booking).where(Booking.code == claims["c"]))
    if booking is None:
        raise BookingNotFound(str(claims["c"]))
    return booking
