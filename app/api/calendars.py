"""Staff calendar feeds (subscribable .ics by private signed link)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Response

from app.booking.deps import ReadSchedulingDep
from app.booking.views import calendar_event
from app.core.abuse import limit_token_requests
from app.core.deps import CtxDep
from app.core.tokens import Purpose, TokenInvalid
from scheduler.ical import feed_calendar
from scheduler.models import Staff

router = APIRouter(prefix="/api/v1/calendar", tags=["calendar"])


@router.get(
    "/staff/{token}/feed.ics",
    dependencies=[Depends(limit_token_requests)],
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
def staff_feed(token: str, svc: ReadSchedulingDep, ctx: CtxDep) -> Response:
    now = ctx.clock.now()
    claims = ctx.links.verify(Purpose.FEED, token, now)
    staff = svc.session.get(Staff, int(claims["s"]))
    # A bumped feed_version revokes every link issued before it.
    if staff is None or not staff.active or claims.get("v") != staff.feed_version:
        raise TokenInvalid("revoked feed")
    bookings = svc.staff_bookings(staff.id, now - timedelta(days=30))
    events = [calendar_event(b, ctx.links, for_staff=True) for b in bookings]
    body = feed_calendar(f"madoguchi: {staff.display_name}", events, tz=ctx.tz)
    return Response(body, media_type="text/calendar; charset=utf-8")
