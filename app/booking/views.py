"""Bookings as calendar events and labels (shared by mail, feeds and pages)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.orm import object_session

from app.core.links import Links
from scheduler.ical import CalendarEvent, booking_calendar
from scheduler.models import Booking, BookingStatus, InterpreterLanguage
from scheduler.types import Channel


def interpreter_label(booking: Booking, locale: str) -> str | None:
    """The booked interpreter's language, named in ``locale`` (None: no interpreter)."""
    code = booking.interpreter_language
    if code is None:
        return None
    session = object_session(booking)
    row = session.get(InterpreterLanguage, code) if session is not None else None
    if row is None:
        return code
    return row.name_ja if locale == "ja" else row.name_en


def calendar_event(booking: Booking, links: Links, *, for_staff: bool = False) -> CalendarEvent:
    service = booking.service
    dept = service.department
    ja = booking.locale == "ja" or for_staff
    if for_staff:
        summary = f"{service.name_ja}（{booking.code}）"
        description = (
            f"{dept.name_ja} / {service.name_ja}\n予約番号: {booking.code}\n"
            f"方法: {'オンライン' if booking.channel == Channel.ONLINE else 'リモート窓口'}"
        )
        if booking.interpreter_language is not None:
            who = booking.interpreter.name if booking.interpreter is not None else ""
            description += f"\n通訳: {interpreter_label(booking, 'ja')}（{who}）"
        url = None
    else:
        join = links.join_url(booking)
        manage = links.manage_url(booking)
        if ja:
            summary = f"{dept.name_ja} {service.name_ja}（オンライン相談）"
            description = (
                f"予約番号: {booking.code}\n"
                f"参加リンク（開始15分前から）: {join}\n"
                f"変更・取消: {manage}"
            )
            if booking.interpreter_language is not None:
                description += f"\n通訳: {interpreter_label(booking, 'ja')}"
        else:
            summary = f"{dept.name_en}: {service.name_en} (online consultation)"
            description = (
                f"Booking code: {booking.code}\n"
                f"Join link (opens 15 minutes before): {join}\n"
                f"Change or cancel: {manage}"
            )
            if booking.interpreter_language is not None:
                description += f"\nInterpreter: {interpreter_label(booking, 'en')}"
        url = join
    return CalendarEvent(
        uid=f"{booking.room_id}@madoguchi",
        start=booking.start_at,
        end=booking.end_at,
        summary=summary,
        description=description,
        url=url,
        location=None if booking.kiosk is None else booking.kiosk.branch.name_ja,
        sequence=booking.sequence,
        cancelled=booking.status == BookingStatus.CANCELLED,
        stamp=booking.updated_at,
    )


def booking_ics(booking: Booking, links: Links, tz: ZoneInfo) -> bytes:
    return booking_calendar(calendar_event(booking, links), tz=tz)
