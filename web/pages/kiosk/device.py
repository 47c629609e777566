"""Kiosk devices: pairing at ``/kiosk/pair``, the heartbeat, and the admin status board.

The device side: branch staff open ``/kiosk/pair`` on the tablet and type the
code an administrator issued; the device gets its credential cookie and lands
on ``/kiosk/device``, the kiosk's start screen. Every kiosk page of a paired
device runs ``kiosk-heartbeat.js``, which posts its camera, microphone and
network checks to ``/kiosk/device/heartbeat``; a refused heartbeat (credential
revoked, kiosk switched off) reloads the page, which then shows the lock screen.

The admin side: ``/admin/kiosk-status`` lists every kiosk with its state and
refreshes its table by polling ``/admin/kiosk-status/rows``; each row issues a
pairing code or revokes the device.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, RedirectResponse, Response

from app.auth.deps import CurrentAdmin
from app.core.deps import CtxDep, ReadSession, WriteSession
from app.core.i18n import gettext, ngettext
from app.core.params import IdPath
from app.kiosk.devices import (
    COOKIE,
    DEVICE,
    PAIR_LENGTH,
    Beat,
    BoardRow,
    Check,
    KioskDeviceService,
    Network,
    PairingRefused,
    show_pair_code,
)
from scheduler.models import Kiosk
from web import csrf
from web.pages.admin.support import (
    AdminPageRoute,
    FormDep,
    admin_page,
    checked_form,
    owner_or_404,
)
from web.pages.kiosk.support import KioskRoute, kiosk_settings
from web.pages.resident.format import kiosk_name
from web.pages.staff.auth import staff_scope
from web.templating import page_locale, render

log = logging.getLogger(__name__)

router = APIRouter(route_class=KioskRoute, include_in_schema=False)
admin_router = APIRouter(route_class=AdminPageRoute, include_in_schema=False)
# The heartbeat is JSON both ways, errors included: not a kiosk page route.
device_api = APIRouter(include_in_schema=False)

PAIR_SCOPE = "kiosk-pair"
# A device credential lives until revoked; the cookie only needs to outlast that.
CREDENTIAL_COOKIE_SECONDS = 10 * 365 * 24 * 3600


# -- the device: pairing ---------------------------------------------------------------------------


def _pair_page(
    request: Request, *, typed: str = "", problem: str | None = None, status_code: int = 200
) -> Response:
    response = render(
        request,
        "kiosk/pair.html",
        {
            "home": None,
            "branch": None,
            "idle": False,
            "settings": kiosk_settings(request),
            "csrf_token": csrf.issue(request, scope=PAIR_SCOPE),
            "csrf_field": csrf.FIELD,
            "typed": typed,
            "problem": problem,
            "code_length": PAIR_LENGTH + 1,
        },
        status_code=status_code,
    )
    csrf.set_cookie(request, response)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/kiosk/pair")
def pair_form(request: Request) -> Response:
    return _pair_page(request)


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


@router.post("/kiosk/pair")
def pair_submit(
    request: Request,
    ctx: CtxDep,
    session: WriteSession,
    code: Annotated[str, Form(max_length=40)] = "",
    csrf_token: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    csrf.verify(request, csrf_token, scope=PAIR_SCOPE)
    settings = kiosk_settings(request)
    svc = KioskDeviceService(session)
    try:
        kiosk, secret = svc.pair(
            code,
            _client(request),
            ctx.clock.now(),
            attempts=settings.pair_attempts,
            window=timedelta(minutes=settings.pair_window_minutes),
        )
    except PairingRefused as exc:
        # The refusal is counted: commit it before answering.
        session.commit()
        status = 429 if exc.reason == "too-many-attempts" else 422
        return _pair_page(request, typed=code, problem=exc.reason, status_code=status)
    session.commit()
    response = RedirectResponse(f"/kiosk/{DEVICE}?lang=ja", status_code=303)
    response.set_cookie(
        COOKIE,
        secret,
        max_age=CREDENTIAL_COOKIE_SECONDS,
        path="/",
        httponly=True,
        secure=ctx.settings.public_base_url.startswith("https://"),
        samesite="strict",
    )
    log.info("kiosk %s: paired from the device screen", kiosk.id)
    return response


# -- the device: heartbeat -------------------------------------------------------------------------


class HeartbeatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    camera: Check
    microphone: Check
    network: Network
    in_call: bool = False
    rtt_ms: int | None = Field(default=None, ge=0, le=600_000)


class DeviceLocked(HTTPException):
    def __init__(self) -> None:
        super().__init__(status_code=401, detail="kiosk-device-locked")


def paired_kiosk(request: Request, session: WriteSession) -> Kiosk:
    """The kiosk of the device's credential; checked before the body is read, so a
    request without one (a forged cross-site post, say) is refused as such."""
    kiosk = KioskDeviceService(session).kiosk_for(request.cookies.get(COOKIE))
    if kiosk is None:
        raise DeviceLocked
    return kiosk


@device_api.post("/kiosk/device/heartbeat")
def heartbeat(
    request: Request,
    kiosk: Annotated[Kiosk, Depends(paired_kiosk)],
    body: HeartbeatIn,
    ctx: CtxDep,
    session: WriteSession,
) -> Response:
    svc = KioskDeviceService(session)
    svc.record_beat(
        kiosk,
        Beat(
            at=ctx.clock.now(),
            camera=body.camera,
            microphone=body.microphone,
            network=body.network,
            in_call=body.in_call,
            rtt_ms=body.rtt_ms,
        ),
    )
    session.commit()
    return JSONResponse(
        {"ok": True, "next_seconds": kiosk_settings(request).heartbeat_seconds},
        headers={"Cache-Control": "no-store"},
    )


# -- administrators: the status board, pairing codes, revocation --------------------------------


def _ago(moment: datetime | None, now: datetime, locale: str) -> str:
    if moment is None:
        return gettext(locale, "never")
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 120:
        return ngettext(locale, "{n} second ago", "{n} seconds ago", seconds, n=seconds)
    if seconds < 2 * 3600:
        minutes = seconds // 60
        return ngettext(locale, "{n} minute ago", "{n} minutes ago", minutes, n=minutes)
    hours = seconds // 3600
    return ngettext(locale, "{n} hour ago", "{n} hours ago", hours, n=hours)


STATE_LABELS = {
    "switched-off": "Switched off",
    "not-paired": "Not paired",
    "waiting": "Paired, waiting for the first signal",
    "silent": "No signal",
    "faulty": "Faulty",
    "in-call": "In a call",
    "idle": "Idle",
}
CHECK_LABELS = {
    "camera": "camera",
    "microphone": "microphone",
    "network": "network",
}


def _row_view(row: BoardRow, now: datetime, locale: str) -> dict[str, Any]:
    beat = row.beat
    branch = row.kiosk.branch
    return {
        "id": row.kiosk.id,
        "name": kiosk_name(row.kiosk, locale),
        "branch": branch.name_ja if locale == "ja" else branch.name_en,
        "state": row.state.value,
        "state_label": gettext(locale, STATE_LABELS[row.state.value]),
        "alert": row.state.alert,
        "online": row.state.online,
        "last_seen": _ago(beat.at if beat else None, now, locale),
        "faults": [gettext(locale, CHECK_LABELS[f]) for f in beat.faults] if beat else [],
        "paired": row.paired_at is not None,
    }


def _board(request: Request, session: Any, ctx: Any) -> dict[str, Any]:
    settings = kiosk_settings(request)
    now = ctx.clock.now()
    locale = page_locale(request)
    rows = KioskDeviceService(session).board(
        now, silent_after=timedelta(seconds=settings.silent_alert_seconds)
    )
    views = [_row_view(r, now, locale) for r in rows]
    return {
        "rows": views,
        "alerts": sum(1 for v in views if v["alert"]),
        "silent_minutes": max(1, settings.silent_alert_seconds // 60),
        "refresh_seconds": min(15, settings.heartbeat_seconds),
    }


@admin_router.get("/admin/kiosk-status")
def status_board(
    request: Request, admin: CurrentAdmin, session: ReadSession, ctx: CtxDep
) -> Response:
    context = _board(request, session, ctx)
    context["notice"] = {"revoked": "The device was locked out."}.get(
        request.query_params.get("done", "")
    )
    response = admin_page(request, admin, "admin/kiosk_status.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response


@admin_router.get("/admin/kiosk-status/rows")
def status_rows(
    request: Request, admin: CurrentAdmin, session: ReadSession, ctx: CtxDep
) -> Response:
    """The board's table body alone, for the page's polling refresh."""
    context = _board(request, session, ctx)
    # The rows carry the pairing and revoke forms, so they need the console's token.
    context["csrf_token"] = csrf.issue(request, scope=staff_scope(admin.id))
    response = render(request, "admin/_kiosk_rows.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response


def _kiosk(session: Session, kiosk_id: int) -> Kiosk | None:
    return session.get(Kiosk, kiosk_id)


KioskToChange = Annotated[Kiosk, Depends(owner_or_404(_kiosk, write=True, kiosk_id=IdPath))]


@admin_router.post("/admin/kiosks/{kiosk_id}/pairing")
def issue_pairing(
    request: Request,
    kiosk: KioskToChange,
    admin: CurrentAdmin,
    session: WriteSession,
    ctx: CtxDep,
    form: FormDep,
) -> Response:
    checked_form(request, admin, form)
    settings = kiosk_settings(request)
    now = ctx.clock.now()
    valid = timedelta(minutes=settings.pairing_minutes)
    code = KioskDeviceService(session).issue_pairing(kiosk, now, valid=valid, admin_id=admin.id)
    session.commit()
    response = admin_page(
        request,
        admin,
        "admin/kiosk_pairing.html",
        {
            "kiosk": kiosk,
            "code": show_pair_code(code),
            "minutes": settings.pairing_minutes,
            "pair_url": ctx.settings.internal_url().rstrip("/") + "/kiosk/pair",
        },
    )
    # Shown once: never from a cache or the back button.
    response.headers["Cache-Control"] = "no-store"
    return response


@admin_router.post("/admin/kiosks/{kiosk_id}/revoke")
def revoke(
    request: Request,
    kiosk: KioskToChange,
    admin: CurrentAdmin,
    session: WriteSession,
    ctx: CtxDep,
    form: FormDep,
) -> Response:
    checked_form(request, admin, form)
    KioskDeviceService(session).revoke(kiosk, ctx.clock.now())
    session.commit()
    log.info("admin %s revoked the device of kiosk %s", admin.id, kiosk.id)
    return RedirectResponse("/admin/kiosk-status?done=revoked", status_code=303)
