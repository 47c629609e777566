"""Health, departments and availability: read-only, no login."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy import text

from app.api.schemas import AvailabilityOut, DepartmentOut, ServiceOut, SlotOut
from app.auth.sessions import live_staff_id
from app.booking.deps import ReadSchedulingDep
from app.calls.turn import ice_servers
from app.core.deps import CtxDep, LocaleDep, ReadSession
from app.core.params import MAX_ID, IsoDate
from app.core.tokens import Purpose, TokenError
from scheduler.types import Channel

router = APIRouter()

# Join tokens of these roles come from staff consoles and kiosks (MADOGUCHI_STAFF_ICE_POLICY).
CITY_NETWORK_ROLES = ("staff", "kiosk")


@router.get("/healthz", tags=["operations"])
def healthz(session: ReadSession) -> dict[str, str]:
    session.execute(text("SELECT 1"))
    return {"status": "ok"}


@router.get("/api/v1/departments", tags=["booking"])
def departments(svc: ReadSchedulingDep, locale: LocaleDep) -> list[DepartmentOut]:
    ja = locale == "ja"
    return [
        DepartmentOut(
            id=d.id,
            slug=d.slug,
            name=d.name_ja if ja else d.name_en,
            name_ja=d.name_ja,
            name_en=d.name_en,
            description=d.description_ja if ja else d.description_en,
            services=[
                ServiceOut(
                    id=s.id,
                    slug=s.slug,
                    name=s.name_ja if ja else s.name_en,
                    name_ja=s.name_ja,
                    name_en=s.name_en,
                    description=s.description_ja if ja else s.description_en,
                    duration_minutes=s.duration_min,
                    channels=[Channel(c) for c in s.channels.split(",") if c],
                    min_notice_minutes=s.min_notice_min,
                    horizon_days=s.horizon_days,
                )
                for s in d.services
                if s.active
            ],
        )
        for d in svc.departments()
    ]


@router.get("/api/v1/services/{service_id}/availability", tags=["booking"])
def availability(
    service_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    svc: ReadSchedulingDep,
    ctx: CtxDep,
    first: Annotated[IsoDate, Query(alias="from")],
    last: Annotated[IsoDate, Query(alias="to")],
    channel: Channel = Channel.ONLINE,
    kiosk_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    interpreter_language: Annotated[
        str | None, Query(max_length=20, pattern="^[a-z][a-z0-9-]*$")
    ] = None,
) -> AvailabilityOut:
    slots = svc.availability(
        service_id,
        first,
        last,
        channel,
        ctx.clock.now(),
        kiosk_id=kiosk_id,
        interpreter_language=interpreter_language,
    )
    return AvailabilityOut(
        service_id=service_id,
        channel=channel,
        timezone=ctx.settings.timezone,
        slots=[
            SlotOut(
                start=s.start.astimezone(ctx.tz),
                end=s.end.astimezone(ctx.tz),
                available_staff=len(s.staff_ids),
                available_interpreters=len(s.interpreter_ids) if interpreter_language else None,
            )
            for s in slots
        ],
    )


@router.get("/api/v1/rtc-config", tags=["calls"])
def rtc_config(
    request: Request,
    ctx: CtxDep,
    session: ReadSession,
    token: Annotated[str | None, Query(max_length=2000)] = None,
    room: Annotated[str | None, Query(max_length=128)] = None,
) -> dict[str, object]:
    """What a browser needs to open a call: ICE servers and the signaling URL.

    With a valid join ``token`` (or, for logged-in staff, a ``room``) the ICE
    servers include TURN credentials for that call only. Staff consoles and
    kiosks get ``iceTransportPolicy: "relay"`` when MADOGUCHI_STAFF_ICE_POLICY
    is ``relay``; everyone else ``"all"``.
    """
    now = ctx.clock.now()
    call_id: str | None = None
    on_city_network = False  # a staff console or a kiosk
    if token:
        try:
            claims = ctx.tokens.verify(Purpose.JOIN, token, now=now)
            call_id = str(claims["room"])
            on_city_network = claims.get("role") in CITY_NETWORK_ROLES
        except (TokenError, KeyError):
            call_id = None  # no relay for a bad link; the call may still work directly
    elif room and live_staff_id(request, session, ctx) is not None:
        call_id = room
        on_city_network = True
    if call_id is not None and ":" in call_id:
        call_id = None
    relay_only = on_city_network and ctx.settings.staff_ice_policy == "relay"
    return {
        "iceServers": ice_servers(ctx.settings, call_id, now),
        # Relay only: internal addresses never leave the city network in a candidate.
        "iceTransportPolicy": "relay" if relay_only else "all",
        "signalingUrl": ctx.settings.signaling_url(),
    }
