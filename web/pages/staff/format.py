"""Dates, times and names as the staff console shows them, in Japanese or English."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from app.booking.notify import WEEKDAYS_JA
from app.core.i18n import gettext
from scheduler.models import Booking
from scheduler.types import Channel
from web.pages.resident.format import kiosk_name


def day_label(day: date, locale: str) -> str:
    """11月30日(月) / Mon 30 Nov."""
    if locale == "ja":
        return f"{day.month}月{day.day}日({WEEKDAYS_JA[day.weekday()]})"
    return day.strftime("%a %d %b")


def long_day_label(day: date, locale: str) -> str:
    if locale == "ja":
        return f"{day.year}年{day_label(day, locale)}"
    return day.strftime("%a %d %b %Y")


def clock(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%H:%M")


def span(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    return f"{clock(start, tz)}〜{clock(end, tz)}"


def wall_windows(windows: tuple[tuple[time, time], ...]) -> str:
    return ", ".join(f"{s:%H:%M}–{e:%H:%M}" for s, e in windows)


def named(obj: object, locale: str) -> str:
    """``name_ja`` or ``name_en`` of a department, service or branch."""
    ja = str(getattr(obj, "name_ja", ""))
    en = str(getattr(obj, "name_en", "")) or ja
    return ja if locale == "ja" else en


def channel_label(booking: Booking, locale: str) -> str:
    if booking.channel == Channel.KIOSK and booking.kiosk is not None:
        return gettext(locale, "Remote counter ({place})", place=kiosk_name(booking.kiosk, locale))
    return gettext(locale, "Online")
