"""What every resident page shares: HTML error pages, rendering, slots, forms.

``ResidentRoute`` turns the errors a resident can meet (expired or tampered
link, unknown page, slot just taken, refused form, our own failure) into a
page in their language, so these routes never answer with the JSON errors
of ``/api``. Routes still catch the errors they can explain better in place
(a taken slot re-renders the form with other times).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import HTMLResponse

from app.core.i18n import gettext
from app.core.params import EMAIL_PATTERN, PHONE_PATTERN
from app.core.ratelimit import RateLimited
from app.core.tokens import TokenError, TokenExpired, TokenNotYetValid
from scheduler.calendar import closed_by_notice, closed_dates, open_windows
from scheduler.errors import (
    BookingCancelled,
    BookingNotFound,
    InvalidBookingRequest,
    SlotUnavailable,
)
from scheduler.models import InterpreterLanguage, Kiosk, Service
from scheduler.service import SchedulingService
from scheduler.slots import compute_slots
from scheduler.types import Channel, Slot
from web import csrf
from web.pages.error_route import ErrorPageRoute
from web.pages.resident.format import day_label, service_channels, time_label
from web.templating import page_locale, render

# -- rendering -----------------------------------------------------------------


def page(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """Render a resident page; forms get a CSRF token and the browser its cookie."""
    ctx: dict[str, Any] = {"csrf_token": lambda: csrf.issue(request), "csrf_field": csrf.FIELD}
    if context:
        ctx.update(context)
    response = render(request, template, ctx, status_code=status_code)
    csrf.set_cookie(request, response)
    # Pages behind signed links show personal details: keep them out of caches.
    response.headers["Cache-Control"] = "no-store"
    return response


# -- error pages -----------------------------------------------------------------


@dataclass(frozen=True)
class ErrorKind:
    status: int
    code: str
    title: str
    what: str
    todo: str


TOO_MANY = ErrorKind(
    429,
    "too-many-requests",
    "Too many attempts",
    "Too many attempts. Please wait and try again.",
    "Please wait a few minutes, then start again from the top page.",
)
NOT_FOUND = ErrorKind(
    404,
    "not-found",
    "Page not found",
    "The page or booking you are looking for does not exist. "
    "The address may be mistyped or incomplete.",
    "Please start again from the top page, or use the link in your confirmation email.",
)
LINK_EXPIRED = ErrorKind(
    410,
    "link-expired",
    "This link has expired",
    "Links in our emails work only for a limited time. A booking link stops working "
    "30 days after the appointment, and a waiting-list offer at the time given in the email.",
    "To make a new booking, please start again from the top page.",
)
LINK_INVALID = ErrorKind(
    403,
    "link-invalid",
    "This link is not valid",
    "The link may have been cut off when it was copied, or changed.",
    "Please open the link directly from your email again. "
    "If it still does not work, start again from the top page.",
)
LINK_NOT_YET = ErrorKind(
    403,
    "link-not-yet-valid",
    "This link is not valid yet",
    "This link can only be used from the time given in your email.",
    "Please open it again at that time.",
)
FORM_REFUSED = ErrorKind(
    403,
    "form-refused",
    "The form could not be sent",
    "For your security, a form works only for some hours after the page was opened, "
    "and only in the browser that opened it. Cookies must be allowed.",
    "Please go back, reload the page, and send the form again.",
)
SLOT_TAKEN = ErrorKind(
    409,
    "slot-unavailable",
    "That time is no longer available",
    "Someone else booked this time a moment ago, or it can no longer be booked.",
    "Please choose another time.",
)
BOOKING_CANCELLED = ErrorKind(
    409,
    "booking-cancelled",
    "This booking has been cancelled",
    "A cancelled booking cannot be changed.",
    "You can make a new booking from the top page.",
)
INVALID_REQUEST = ErrorKind(
    422,
    "invalid-request",
    "The request could not be processed",
    "Some of the information sent was missing or not valid.",
    "Please go back, check the page, and try again.",
)
SERVER_ERROR = ErrorKind(
    500,
    "server-error",
    "Something went wrong on our side",
    "We could not complete your request because of a problem in our system.",
    "Please try again in a few minutes. If it keeps happening, please call the city office.",
)


def error_page(request: Request, kind: ErrorKind) -> HTMLResponse:
    return page(request, "resident/error.html", {"error": kind}, status_code=kind.status)


def error_kind(exc: Exception) -> ErrorKind | None:
    """The page for an error a resident can meet; None for a bug."""
    if isinstance(exc, csrf.CsrfError):
        return FORM_REFUSED
    if isinstance(exc, TokenExpired):
        return LINK_EXPIRED
    if isinstance(exc, TokenNotYetValid):
        return LINK_NOT_YET
    if isinstance(exc, TokenError):
        return LINK_INVALID
    if isinstance(exc, BookingNotFound | RequestValidationError):
        return NOT_FOUND
    if isinstance(exc, InvalidBookingRequest):
        return NOT_FOUND if exc.field == "service_id" else INVALID_REQUEST
    if isinstance(exc, SlotUnavailable):
        return SLOT_TAKEN
    if isinstance(exc, BookingCancelled):
        return BOOKING_CANCELLED
    if isinstance(exc, RateLimited):
        return TOO_MANY
    return None


class ResidentRoute(ErrorPageRoute):
    """Routes whose errors become resident error pages (never JSON)."""

    area = "resident"
    classify = staticmethod(error_kind)
    render_error = staticmethod(error_page)

    @staticmethod
    def server_error() -> ErrorKind:
        return SERVER_ERROR


# -- days and times ----------------------------------------------------------------


@dataclass(frozen=True)
class DayInfo:
    day: date
    label: str
    free: int  # bookable start times
    open: bool  # the department has hours that day
    # Open, but the booking notice leaves no start time: 受付終了, never "full"
    # (no waiting list). scheduler.calendar.closed_by_notice is the one rule.
    closed: bool = False

    @property
    def full(self) -> bool:
        """Every time is taken: the day can be waitlisted."""
        return self.open and not self.closed and not self.free


@dataclass(frozen=True)
class TimeChoice:
    start: datetime
    label: str  # 10:00
    iso: str  # 2026-12-01T10:00:00+09:00, what forms send back
    afternoon: bool


def today(now: datetime, tz: ZoneInfo) -> date:
    return now.astimezone(tz).date()


def last_bookable_day(service: Service, now: datetime, tz: ZoneInfo) -> date:
    return today(now, tz) + timedelta(days=service.horizon_days)


def default_channel(service: Service) -> Channel:
    channels = [c for c in service.channels.split(",") if c]
    return (
        Channel.ONLINE if Channel.ONLINE.value in channels or not channels else Channel(channels[0])
    )


def overview(
    svc: SchedulingService,
    service: Service,
    first: date,
    last: date,
    channel: Channel,
    now: datetime,
    locale: str,
    *,
    kiosk_id: int | None = None,
    ignore_booking_id: int | None = None,
    interpreter_language: str | None = None,
) -> tuple[list[Slot], list[DayInfo]]:
    """Free slots of ``first..last`` and, per day, how many and whether it is open."""
    query = svc.slot_query(
        service,
        first,
        last,
        channel,
        now,
        kiosk_id=kiosk_id,
        ignore_booking_id=ignore_booking_id,
        interpreter_language=interpreter_language,
    )
    slots = compute_slots(query)
    closed = closed_dates(query.closures, first, last)
    counts: dict[date, int] = {}
    for slot in slots:
        key = slot.start.astimezone(svc.tz).date()
        counts[key] = counts.get(key, 0) + 1
    days = []
    day = first
    while day <= last:
        windows = open_windows(query.department_hours, day, city_closed=day in closed, tz=svc.tz)
        spec = query.service
        days.append(
            DayInfo(
                day,
                day_label(day, locale),
                counts.get(day, 0),
                bool(windows),
                closed_by_notice(windows, spec.duration, spec.min_notice, now),
            )
        )
        day += timedelta(days=1)
    return slots, days


def time_choices(slots: list[Slot], tz: ZoneInfo) -> list[TimeChoice]:
    out = []
    for slot in slots:
        local = slot.start.astimezone(tz)
        out.append(
            TimeChoice(slot.start, time_label(local, tz), local.isoformat(), local.hour >= 12)
        )
    return out


def nearest_slots(
    svc: SchedulingService,
    service: Service,
    wanted: datetime,
    channel: Channel,
    now: datetime,
    *,
    kiosk_id: int | None = None,
    ignore_booking_id: int | None = None,
    limit: int = 6,
) -> list[Slot]:
    """Free times closest to ``wanted`` (same day first), in time order."""
    first = max(wanted.astimezone(svc.tz).date() - timedelta(days=3), today(now, svc.tz))
    last = min(first + timedelta(days=14), last_bookable_day(service, now, svc.tz))
    if last < first:
        return []
    query = svc.slot_query(
        service, first, last, channel, now, kiosk_id=kiosk_id, ignore_booking_id=ignore_booking_id
    )
    others = [s for s in compute_slots(query) if s.start != wanted]
    others.sort(key=lambda s: abs((s.start - wanted).total_seconds()))
    return sorted(others[:limit], key=lambda s: s.start)


def parse_start(value: str | None, tz: ZoneInfo) -> datetime | None:
    """A start time sent back by a form: ISO 8601, local time if no offset."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace(" ", "+"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment


def parse_day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


# -- forms -------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldError:
    field: str  # the input's id, for the error summary's links
    message: str


_EMAIL = re.compile(EMAIL_PATTERN)
_PHONE = re.compile(PHONE_PATTERN)


def normalize(value: str | None) -> str:
    # Japanese keyboards often type full-width letters, digits and spaces.
    return unicodedata.normalize("NFKC", value or "").strip()


@dataclass
class ContactForm:
    name: str = ""
    email: str = ""
    phone: str = ""
    mail_locale: str = "ja"

    def validate(self, locale: str) -> list[FieldError]:
        def _(message: str) -> str:
            return gettext(locale, message)

        errors = []
        if not self.name:
            errors.append(FieldError("name", _("Please enter your name.")))
        elif len(self.name) > 100:
            errors.append(
                FieldError("name", _("Please enter your name in 100 characters or fewer."))
            )
        if not self.email:
            errors.append(
                FieldError("email", _("Please enter your email address, like taro@example.jp."))
            )
        elif len(self.email) > 200 or not _EMAIL.match(self.email):
            errors.append(
                FieldError(
                    "email",
                    _("Please check your email address. It should look like taro@example.jp."),
                )
            )
        if self.phone and (len(self.phone) > 40 or not _PHONE.match(self.phone)):
            errors.append(
                FieldError(
                    "phone",
                    _("Please check your phone number: digits and hyphens, like 090-1234-5678."),
                )
            )
        if self.mail_locale not in ("ja", "en"):
            self.mail_locale = "ja"
        return errors


def contact_form(name: str, email: str, phone: str, mail_locale: str) -> ContactForm:
    return ContactForm(
        name=(name or "").strip(),
        email=normalize(email).replace(" ", ""),
        phone=normalize(phone),
        mail_locale=mail_locale or "ja",
    )


def request_locale(request: Request) -> str:
    return page_locale(request)


# -- the interpreter a resident asks for -----------------------------------------------------


def chosen_interpreter(
    request: Request, svc: SchedulingService, wanted: str | None = None
) -> InterpreterLanguage | None:
    """The interpreter language a resident chose (``?interpreter=pt``), if it exists."""
    code = wanted if wanted is not None else request.query_params.get("interpreter", "")
    if not code:
        return None
    return svc.session.get(InterpreterLanguage, code)


def chosen_kiosk(request: Request, svc: SchedulingService, service: Service) -> Kiosk | None:
    """The branch kiosk a booking is for (``?kiosk=3``, from a kiosk's "book a time"
    QR code), if the service is offered there and the kiosk is in use."""
    raw = request.query_params.get("kiosk", "")
    if not raw.isdigit() or Channel.KIOSK not in service_channels(service):
        return None
    kiosk = svc.session.get(Kiosk, int(raw))
    return kiosk if kiosk is not None and kiosk.active else None


def carry(language: InterpreterLanguage | None, kiosk: Kiosk | None = None) -> str:
    """Query suffix that keeps the interpreter and kiosk choices from page to page."""
    extra = f"&interpreter={language.code}" if language is not None else ""
    return extra + (f"&kiosk={kiosk.id}" if kiosk is not None else "")
