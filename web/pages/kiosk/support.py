"""What every kiosk screen shares: the device from its link, rendering, error pages.

``KioskRoute`` turns a bad or expired kiosk link, a switched-off kiosk and a
stale form into a big, plain kiosk page (never JSON), with the status code
that says what happened (403, 410).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import qrcode
import qrcode.image.svg
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import HTMLResponse

from app.core.context import AppContext
from app.core.deps import get_ctx
from app.core.ratelimit import RateLimited
from app.core.tokens import TokenError, TokenExpired
from app.kiosk.devices import COOKIE, DEVICE, KioskDeviceService
from app.kiosk.service import KioskService, KioskUnavailable
from app.kiosk.settings import KioskSettings
from scheduler.models import Kiosk
from web import csrf
from web.pages.error_route import ErrorPageRoute
from web.pages.resident.format import kiosk_name
from web.templating import page_locale, render

# -- errors become big, plain kiosk pages ----------------------------------------------------


@dataclass(frozen=True)
class KioskErrorPage:
    status: int
    code: str
    title: str
    what: str
    todo: str
    # Offer the start screen: only when the kiosk's own link is fine.
    home: bool = False


LINK_INVALID = KioskErrorPage(
    403,
    "kiosk-link-invalid",
    "This kiosk screen cannot be opened",
    "The address of this screen is not valid. It may have been cut off or changed.",
    "Please ask the branch staff. An administrator can open the kiosk screen again.",
)
LINK_EXPIRED = KioskErrorPage(
    410,
    "kiosk-link-expired",
    "This kiosk screen has expired",
    "The address of this screen is no longer valid.",
    "Please ask the branch staff. An administrator can open the kiosk screen again.",
)
UNAVAILABLE = KioskErrorPage(
    403,
    "kiosk-unavailable",
    "This kiosk is not in use",
    "This kiosk has been switched off by the city office.",
    "Please ask the branch staff, or use the counter.",
)
DEVICE_LOCKED = KioskErrorPage(
    403,
    "kiosk-device-locked",
    "This device is not registered as a kiosk",
    "This device has not been paired with a kiosk, or its registration was withdrawn.",
    "Please ask the branch staff. An administrator can issue a pairing code for this device.",
)
FORM_REFUSED = KioskErrorPage(
    403,
    "kiosk-form-refused",
    "Please try again",
    "The screen was open for a long time, so the entry could not be sent.",
    "Please touch the button below and start again.",
    home=True,
)
TOO_MANY_CODES = KioskErrorPage(
    429,
    "kiosk-too-many-codes",
    "Please ask the branch staff",
    "A booking code was entered wrongly too many times.",
    "Please ask the branch staff for help, or try again in a few minutes.",
    home=True,
)
SERVER_ERROR = KioskErrorPage(
    500,
    "kiosk-server-error",
    "Something went wrong",
    "We could not complete this because of a problem in our system.",
    "Please try again in a few minutes, or ask the branch staff.",
    home=True,
)
CALL_UNAVAILABLE = KioskErrorPage(
    403,
    "kiosk-call-unavailable",
    "This consultation cannot be started here",
    "The booking may have been cancelled, or the screen was opened for another kiosk.",
    "Please enter your booking code again, or ask the branch staff.",
    home=True,
)
CALL_OVER = KioskErrorPage(
    410,
    "kiosk-call-over",
    "The time of this consultation has passed",
    "A consultation can be started only from shortly before the booked time until a little "
    "after it ends.",
    "Please ask the branch staff, or book a new time.",
    home=True,
)


class KioskDeviceLocked(KioskUnavailable):
    """No valid device credential: never paired, revoked, or the kiosk switched off."""

    code = "kiosk-device-locked"


def error_kind(exc: Exception) -> KioskErrorPage | None:
    if isinstance(exc, KioskDeviceLocked):
        return DEVICE_LOCKED
    if isinstance(exc, TokenExpired):
        return LINK_EXPIRED
    if isinstance(exc, TokenError | RequestValidationError):
        return LINK_INVALID
    if isinstance(exc, KioskUnavailable):
        return UNAVAILABLE
    if isinstance(exc, csrf.CsrfError):
        return FORM_REFUSED
    if isinstance(exc, RateLimited):
        return TOO_MANY_CODES
    return None


def kiosk_error_page(request: Request, kind: KioskErrorPage) -> HTMLResponse:
    token = request.path_params.get("token")
    home = f"/kiosk/{token}" if kind.home and token else None
    response = render(
        request,
        "kiosk/error.html",
        {
            "error": kind,
            "pair_link": kind is DEVICE_LOCKED,
            "home": home,
            "branch": None,
            "idle": home is not None,
            "settings": kiosk_settings(request),
        },
        status_code=kind.status,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


class KioskRoute(ErrorPageRoute):
    """Kiosk errors (bad link, switched-off kiosk, stale form) are kiosk pages, never JSON."""

    area = "kiosk"
    classify = staticmethod(error_kind)
    render_error = staticmethod(kiosk_error_page)

    @staticmethod
    def server_error() -> KioskErrorPage:
        return SERVER_ERROR


# -- shared page plumbing ------------------------------------------------------------------------


def kiosk_settings(request: Request) -> KioskSettings:
    """The kiosk settings of the app context (``MADOGUCHI_KIOSK_*``)."""
    return KioskSettings.of(get_ctx(request).settings)


@dataclass(frozen=True)
class Screen:
    """What every kiosk page needs: the device, its start address, the clock."""

    kiosk: Kiosk
    token: str
    ctx: AppContext
    settings: KioskSettings
    svc: KioskService
    locale: str

    @property
    def home(self) -> str:
        return f"/kiosk/{self.token}"

    @property
    def now(self) -> datetime:
        return self.ctx.clock.now()

    def branch_name(self) -> str:
        branch = self.kiosk.branch
        return branch.name_ja if self.locale == "ja" else branch.name_en


def device_kiosk(request: Request, session: Any) -> Kiosk:
    """The kiosk this device's credential cookie stands for, or ``KioskDeviceLocked``."""
    kiosk = KioskDeviceService(session).kiosk_for(request.cookies.get(COOKIE))
    if kiosk is None:
        raise KioskDeviceLocked("no valid kiosk device credential")
    return kiosk


def open_screen(request: Request, token: str, ctx: AppContext, session: Any) -> Screen:
    """The screen of a paired device (``/kiosk/device/...``, credential cookie) or of an
    administrator's signed kiosk link."""
    svc = KioskService(session, ctx.tz)
    if token == DEVICE:
        kiosk = device_kiosk(request, session)
    else:
        kiosk = svc.kiosk_from_token(ctx.tokens, token, ctx.clock.now())
    return Screen(kiosk, token, ctx, KioskSettings.of(ctx.settings), svc, page_locale(request))


def kiosk_page(
    request: Request,
    screen: Screen,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    idle: bool = True,
    status_code: int = 200,
) -> HTMLResponse:
    values: dict[str, Any] = {
        "home": screen.home,
        "branch": screen.branch_name(),
        "kiosk_name": kiosk_name(screen.kiosk, screen.locale),
        "settings": screen.settings,
        "idle": idle,
        # Only a paired device reports its health; an admin's signed link does not.
        "heartbeat_url": f"/kiosk/{DEVICE}/heartbeat" if screen.token == DEVICE else None,
    }
    values.update(context or {})
    response = render(request, template, values, status_code=status_code)
    csrf.set_cookie(request, response)
    # A shared device: nothing of one resident's visit may come back from a cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def qr_data_uri(url: str) -> str:
    """A QR code of ``url`` as an SVG data URI (the kiosk's "book a time" codes)."""
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
