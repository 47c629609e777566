"""JSON shapes of the public API (pydantic), kept apart from the ORM."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Query
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from app.booking.views import interpreter_label
from app.core.links import Links
from app.core.params import EMAIL_PATTERN, MAX_ID, NO_NUL_PATTERN, PHONE_PATTERN, IsoDate
from scheduler.models import Booking
from scheduler.types import Channel

# A name with something in it besides spaces (and no NUL).
NAME_PATTERN = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"

DbId = Annotated[int, Field(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold NUL; refused here it is a 422, not a 500.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("NUL characters are not allowed")
        return value

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # The schema says what _no_nul refuses: free text without NUL.
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        for prop in target.get("properties", {}).values():
            for option in [prop, *prop.get("anyOf", [])]:
                plain = "pattern" not in option and "format" not in option
                if option.get("type") == "string" and plain:
                    option["pattern"] = NO_NUL_PATTERN
        return schema


class ServiceOut(BaseModel):
    id: int
    slug: str
    name: str
    name_ja: str
    name_en: str
    description: str
    duration_minutes: int
    channels: list[Channel]
    min_notice_minutes: int
    horizon_days: int


class DepartmentOut(BaseModel):
    id: int
    slug: str
    name: str
    name_ja: str
    name_en: str
    description: str
    services: list[ServiceOut]


class SlotOut(BaseModel):
    start: datetime = Field(description="ISO 8601 with the city's offset (+09:00)")
    end: datetime
    available_staff: int
    # Only when an interpreter language was asked for.
    available_interpreters: int | None = None


class AvailabilityOut(BaseModel):
    service_id: int
    channel: Channel
    timezone: str
    slots: list[SlotOut]


# A booking needs a way to reach the resident: an e-mail address or a phone number.
_CONTACT_REQUIRED: dict[str, Any] = {
    "anyOf": [
        {"required": ["email"], "properties": {"email": {"type": "string"}}},
        {"required": ["phone"], "properties": {"phone": {"type": "string"}}},
    ]
}


class BookingCreate(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_CONTACT_REQUIRED)

    service_id: DbId
    start: AwareDatetime
    channel: Channel = Channel.ONLINE
    name: str = Field(min_length=1, max_length=100, pattern=NAME_PATTERN)
    email: str | None = Field(default=None, max_length=200, pattern=EMAIL_PATTERN)
    phone: str | None = Field(default=None, max_length=40, pattern=PHONE_PATTERN)
    locale: str = Field(default="ja", pattern="^(ja|en)$")
    kiosk_id: DbId | None = None
    # Reserve an interpreter of this language with the staff member
    # (codes from GET /api/v1/interpreter-languages, e.g. "pt", "jsl").
    interpreter_language: str | None = Field(
        default=None, max_length=20, pattern="^[a-z][a-z0-9-]*$"
    )


class RescheduleIn(Strict):
    start: AwareDatetime


class BookingOut(BaseModel):
    code: str
    # The signed link token of manage_url and ics_url, for GET/POST /api/v1/bookings/{token}.
    token: str
    status: str
    start: datetime
    end: datetime
    channel: Channel
    department: str
    service: str
    service_id: int
    kiosk_id: int | None
    interpreter_language: str | None = None
    # The language's name in the response's language, when an interpreter is booked.
    interpreter: str | None = None
    manage_url: str
    ics_url: str
    join_url: str
    change_deadline: datetime


class WaitlistCreate(Strict):
    service_id: DbId
    day: IsoDate
    name: str = Field(min_length=1, max_length=100, pattern=NAME_PATTERN)
    email: str = Field(max_length=200, pattern=EMAIL_PATTERN)
    phone: str | None = Field(default=None, max_length=40, pattern=PHONE_PATTERN)
    locale: str = Field(default="ja", pattern="^(ja|en)$")
    channel: Channel = Channel.ONLINE


class WaitlistOut(BaseModel):
    id: int
    service_id: int
    day: date
    status: str


class LoginIn(Strict):
    login: str = Field(min_length=1, max_length=60)
    password: str = Field(min_length=1, max_length=200)


class StaffOut(BaseModel):
    id: int
    login: str
    display_name: str
    is_admin: bool
    feed_url: str


class ProxyBookingCreate(BookingCreate):
    """Booked by staff for a resident who may have only a phone number."""


class ProxyBookingOut(BookingOut):
    slip_url: str


class BusyImportOut(BaseModel):
    staff_id: int
    imported: int


def booking_out(booking: Booking, links: Links, tz: ZoneInfo, locale: str) -> BookingOut:
    service = booking.service
    dept = service.department
    token = links.manage_token(booking)
    return BookingOut(
        code=booking.code,
        token=token,
        status=booking.status,
        start=booking.start_at.astimezone(tz),
        end=booking.end_at.astimezone(tz),
        channel=Channel(booking.channel),
        department=dept.name_ja if locale == "ja" else dept.name_en,
        service=service.name_ja if locale == "ja" else service.name_en,
        service_id=service.id,
        kiosk_id=booking.kiosk_id,
        interpreter_language=booking.interpreter_language,
        interpreter=interpreter_label(booking, "ja" if locale == "ja" else "en"),
        manage_url=links.manage_url(booking, token),
        ics_url=links.ics_url(booking, token),
        join_url=links.join_url(booking),
        change_deadline=(
            booking.start_at - timedelta(minutes=service.change_cutoff_min)
        ).astimezone(tz),
    )
