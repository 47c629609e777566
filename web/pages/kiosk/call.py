"""The kiosk's call screen: camera, waiting room and call for a booked kiosk visit.

``/join/{token}`` (``web.pages.call.pages``) is the resident's page at home, with
its own device check; it takes resident tokens only. A kiosk gets this screen
instead, ``/kiosk/{kiosk_token}/call/{join_token}``, reached from the
booking-code screen. Both tokens are checked: the kiosk's own link, and a
join token with role ``kiosk`` made for this very kiosk (``participant``).

The page's script (``web/static/js/pages/kiosk-call.js``) reuses the call modules
of ``web/static/js/call/`` and the call page's texts (``call_messages``):
camera and microphone start by themselves (the device is set up once by
branch staff), then the waiting room ("職員がまもなく参加します"), then the
call with large controls; when it ends the screen goes back to the start.
The idle reset of the other kiosk screens is off here: nobody touches the
screen while talking.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import Response

from app.core.deps import CtxDep, ReadSession
from app.core.tokens import Purpose, TokenError, TokenExpired
from app.tracker.models import RatingSource
from app.tracker.ratings import rating_url
from scheduler.interpreters import SIGN_LANGUAGES
from scheduler.models import Booking, BookingStatus, Kiosk
from web.pages.call.pages import RTC_CONFIG_URL, call_messages
from web.pages.kiosk.support import (
    CALL_OVER,
    CALL_UNAVAILABLE,
    KioskRoute,
    kiosk_error_page,
    kiosk_page,
    open_screen,
)
from web.pages.resident.format import when_label
from web.pages.staff.format import named

log = logging.getLogger(__name__)

router = APIRouter(route_class=KioskRoute, include_in_schema=False)


def participant(kiosk: Kiosk) -> str:
    """The kiosk's participant id in a call room (stable across reconnects)."""
    return f"kiosk:{kiosk.id}"


@router.get("/kiosk/{token}/call/{join_token}")
def call_page(
    request: Request, token: str, join_token: str, ctx: CtxDep, session: ReadSession
) -> Response:
    screen = open_screen(request, token, ctx, session)
    try:
        claims = ctx.tokens.verify(Purpose.JOIN, join_token, now=screen.now)
    except TokenExpired:
        return kiosk_error_page(request, CALL_OVER)
    except TokenError:
        # Tampered, or not yet valid (the code screen only hands out open ones).
        return kiosk_error_page(request, CALL_UNAVAILABLE)
    room = claims.get("room")
    if claims.get("role") != "kiosk" or claims.get("pid") != participant(screen.kiosk):
        log.info("kiosk %s: a join token of another participant was refused", screen.kiosk.id)
        return kiosk_error_page(request, CALL_UNAVAILABLE)
    booking = session.scalar(select(Booking).where(Booking.room_id == room))
    if booking is None or booking.status == BookingStatus.CANCELLED:
        return kiosk_error_page(request, CALL_UNAVAILABLE)
    locale = screen.locale
    service = booking.service
    log.info("kiosk %s: call screen for booking %s", screen.kiosk.id, booking.id)
    return kiosk_page(
        request,
        screen,
        "kiosk/call.html",
        {
            "join_token": join_token,
            "room": booking.room_id,
            "when": when_label(booking.start_at, booking.end_at, ctx.tz, locale),
            "service": named(service, locale),
            "department": named(service.department, locale),
            "messages": call_messages(locale),
            "rtc_config_url": f"{RTC_CONFIG_URL}?token={join_token}",
            "return_seconds": screen.settings.return_seconds,
            "sign_languages": sorted(SIGN_LANGUAGES),
            "rating_href": rating_url(
                ctx.links, booking.room_id, RatingSource.KIOSK, screen.now, back=screen.home
            ),
        },
        idle=False,
    )
