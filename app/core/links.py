"""Every signed link the app hands out, built in one place.

Claims are short on purpose: links end up in QR codes and SMS. The objects a
link is made for are described by small protocols (what a link needs of a
booking, a staff member …), so the foundation depends on no domain's tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from app.core.tokens import Purpose, Tokens


class _Named(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...


class Booking(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def code(self) -> str: ...
    @property
    def room_id(self) -> str: ...
    @property
    def resident_name(self) -> str: ...
    @property
    def start_at(self) -> datetime: ...
    @property
    def end_at(self) -> datetime: ...
    @property
    def interpreter(self) -> _Named | None: ...
    @property
    def interpreter_language(self) -> str | None: ...


class Staff(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def feed_version(self) -> int: ...


class WaitlistEntry(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def offer_expires_at(self) -> datetime | None: ...


class Kiosk(Protocol):
    @property
    def id(self) -> int: ...


MANAGE_VALID_AFTER_END = timedelta(days=30)

# The paths whose next segment is a signed token: every link built below, and
# the token paths of the API (a kiosk's tickets, a staff hand-over, a call
# document). ``app.core.logs`` masks that segment in every log line.
TOKEN_PATHS: tuple[str, ...] = (
    "/manage/",
    "/join/",
    "/status/",
    "/waitlist/offers/",
    "/kiosk/",
    "/api/v1/bookings/",
    "/api/v1/calendar/staff/",
    "/api/v1/documents/",
    "/api/v1/kiosk/",
    "/api/v1/staff/handover/",
)


@dataclass(frozen=True)
class Links:
    tokens: Tokens
    base_url: str
    # Links for kiosks (and staff), on the city network; empty means base_url.
    internal_base_url: str = ""
    join_opens_before: timedelta = timedelta(minutes=15)
    join_grace_after: timedelta = timedelta(minutes=30)

    def _url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def _internal_url(self, path: str) -> str:
        return (self.internal_base_url or self.base_url).rstrip("/") + path

    def manage_token(self, booking: Booking) -> str:
        return self.tokens.issue(
            Purpose.MANAGE,
            {"b": booking.id, "c": booking.code},
            expires=booking.end_at + MANAGE_VALID_AFTER_END,
        )

    # ``token``: the booking's manage token when the caller already has one
    # (signing is a visible share of a booking request's CPU).
    def manage_url(self, booking: Booking, token: str | None = None) -> str:
        return self._url(f"/manage/{token or self.manage_token(booking)}")

    def ics_url(self, booking: Booking, token: str | None = None) -> str:
        return self._url(f"/api/v1/bookings/{token or self.manage_token(booking)}/booking.ics")

    def join_token(
        self,
        booking: Booking,
        *,
        role: str = "resident",
        pid: str | None = None,
        name: str | None = None,
        language: str = "",
    ) -> str:
        return self.room_join_token(
            booking.room_id,
            role=role,
            pid=pid or f"resident:{booking.code}",
            name=name if name is not None else booking.resident_name,
            not_before=booking.start_at - self.join_opens_before,
            expires=booking.end_at + self.join_grace_after,
            language=language,
        )

    def room_join_token(
        self,
        room: str,
        *,
        role: str,
        pid: str,
        name: str,
        expires: datetime,
        not_before: datetime | None = None,
        handover: bool = False,
        language: str = "",
    ) -> str:
        """A join token for any call room; a walk-in's room has no booking
        whose times bound it, so the caller says how long it lasts.
        ``handover`` lets a staff member take the room's extra staff seat
        beside the first (a warm hand-over, docs/signaling.md); ``language``
        is an interpreter's (the others see it: a signer is shown large)."""
        claims: dict[str, object] = {"room": room, "role": role, "pid": pid, "name": name}
        if handover:
            claims["handover"] = True
        if language:
            claims["lang"] = language
        return self.tokens.issue(Purpose.JOIN, claims, not_before=not_before, expires=expires)

    def join_url(self, booking: Booking) -> str:
        return self._url(f"/join/{self.join_token(booking)}")

    def interpreter_join_url(self, booking: Booking) -> str | None:
        """The booked interpreter's own link into the call (role ``interpreter``)."""
        interpreter = booking.interpreter
        if interpreter is None:
            return None
        token = self.join_token(
            booking,
            role="interpreter",
            pid=f"interpreter:{interpreter.id}",
            name=interpreter.name,
            language=booking.interpreter_language or "",
        )
        return self._url(f"/join/{token}")

    def feed_url(self, staff: Staff) -> str:
        token = self.tokens.issue(Purpose.FEED, {"s": staff.id, "v": staff.feed_version})
        return self._url(f"/api/v1/calendar/staff/{token}/feed.ics")

    def waitlist_claim_url(self, entry: WaitlistEntry) -> str:
        assert entry.offer_expires_at is not None
        token = self.tokens.issue(
            Purpose.WAITLIST_OFFER, {"w": entry.id}, expires=entry.offer_expires_at
        )
        return self._url(f"/waitlist/offers/{token}")

    def kiosk_token(self, kiosk: Kiosk, *, expires: datetime) -> str:
        """The screen of one registered kiosk device (``/kiosk/{token}``)."""
        return self.tokens.issue(Purpose.KIOSK, {"k": kiosk.id}, expires=expires)

    def kiosk_url(self, kiosk: Kiosk, *, expires: datetime) -> str:
        return self._internal_url(f"/kiosk/{self.kiosk_token(kiosk, expires=expires)}")

    def application_token(self, application_id: int, reference: str) -> str:
        """The resident's status page; it stays valid while the application exists."""
        return self.tokens.issue(Purpose.APPLICATION, {"a": application_id, "r": reference})

    def application_url(self, application_id: int, reference: str) -> str:
        return self._url(f"/status/{self.application_token(application_id, reference)}")

    def verify(self, purpose: Purpose, token: str, now: datetime) -> dict[str, Any]:
        return self.tokens.verify(purpose, token, now=now)
