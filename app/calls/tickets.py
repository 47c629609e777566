"""Join tickets: short-lived signed tokens that let a staff member, a kiosk
or an invited person into a call room."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel

from app.core.context import AppContext
from scheduler.models import Kiosk

# A call room's tokens outlive any realistic counter call; the room ends when
# staff send ``end``.
CALL_TICKET_TTL = timedelta(hours=2)


def call_ticket(
    ctx: AppContext, room: str, role: str, pid: str, name: str, *, handover: bool = False
) -> JoinTicketOut:
    """A short-lived join ticket for a call room, from a logged-in session or a kiosk."""
    expires = ctx.clock.now() + CALL_TICKET_TTL
    token = ctx.links.room_join_token(
        room, role=role, pid=pid, name=name, expires=expires, handover=handover
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
    # The same id as a booked kiosk call (web.pages.kiosk.call.participant).
    return f"kiosk:{kiosk.id}"


class JoinTicketOut(BaseModel):
    """What a client needs to enter a call room through signaling."""

    room: str
    role: str
    participant: str
    token: str
    signaling_url: str
    expires: datetime
