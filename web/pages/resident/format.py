"""Dates, times and labels as residents read them, in Japanese or English.

Japanese follows the confirmation mail (``app.booking.notify.japanese_when``):
2026年12月3日(木) 14:00〜14:30. Weekday names come from fixed tables, not
from the process locale, so a server's C locale never leaks into pages.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from scheduler.models import Branch, Department, Kiosk, Service
from scheduler.types import Channel

WEEKDAYS_JA = "月火水木金土日"
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day_label(day: date, locale: str) -> str:
    """2026年12月1日(火) / Tue 1 Dec 2026"""
    if locale == "ja":
        return f"{day.year}年{day.month}月{day.day}日({WEEKDAYS_JA[day.weekday()]})"
    return f"{WEEKDAYS_EN[day.weekday()]} {day.day} {MONTHS_EN[day.month - 1]} {day.year}"


def time_label(moment: datetime, tz: ZoneInfo) -> str:
    return f"{moment.astimezone(tz):%H:%M}"


def when_label(start: datetime, end: datetime, tz: ZoneInfo, locale: str) -> str:
    """2026年12月1日(火) 10:00〜10:30 / Tue 1 Dec 2026, 10:00–10:30"""
    day = day_label(start.astimezone(tz).date(), locale)
    if locale == "ja":
        return f"{day} {time_label(start, tz)}〜{time_label(end, tz)}"
    return f"{day}, {time_label(start, tz)}–{time_label(end, tz)}"


def moment_label(moment: datetime, tz: ZoneInfo, locale: str) -> str:
    """2026年12月1日(火) 08:00 / Tue 1 Dec 2026, 08:00"""
    day = day_label(moment.astimezone(tz).date(), locale)
    sep = " " if locale == "ja" else ", "
    return f"{day}{sep}{time_label(moment, tz)}"


def department_name(department: Department, locale: str) -> str:
    return department.name_ja if locale == "ja" else department.name_en


def department_description(department: Department, locale: str) -> str:
    return department.description_ja if locale == "ja" else department.description_en


def service_name(service: Service, locale: str) -> str:
    return service.name_ja if locale == "ja" else service.name_en


def service_description(service: Service, locale: str) -> str:
    return service.description_ja if locale == "ja" else service.description_en


def service_channels(service: Service) -> list[Channel]:
    return [Channel(c) for c in service.channels.split(",") if c]


def kiosk_name(kiosk: Kiosk, locale: str) -> str:
    """The kiosk's name; on English pages its English form, if the city gave one."""
    return kiosk.name_en if locale != "ja" and kiosk.name_en else kiosk.name


def branch_address(branch: Branch, locale: str) -> str:
    """The branch's address; on English pages its English form, if the city gave one."""
    return branch.address_en if locale != "ja" and branch.address_en else branch.address


def kiosk_label(kiosk: Kiosk, locale: str) -> str:
    branch = kiosk.branch.name_ja if locale == "ja" else kiosk.branch.name_en
    name = kiosk_name(kiosk, locale)
    # Kiosk names often already say where they are (北支所 リモート窓口).
    if name.startswith(kiosk.branch.name_ja) or name.startswith(branch):
        return name
    return f"{branch} {name}"


def opening_hours(department: Department, locale: str) -> list[str]:
    """Weekly hours as lines, runs of equal days joined: 月〜金 08:30〜12:00、13:00〜17:15"""
    by_day: list[tuple[str, ...]] = [() for _ in range(7)]
    for row in department.hours:
        by_day[row.weekday] += (f"{row.start:%H:%M}", f"{row.end:%H:%M}")
    names = WEEKDAYS_JA if locale == "ja" else WEEKDAYS_EN
    dash, comma = ("〜", "、") if locale == "ja" else ("–", ", ")
    lines = []
    wd = 0
    while wd < 7:
        run_end = wd
        while run_end + 1 < 7 and by_day[run_end + 1] == by_day[wd]:
            run_end += 1
        times = by_day[wd]
        if times:
            days = names[wd] if run_end == wd else f"{names[wd]}{dash}{names[run_end]}"
            spans = comma.join(f"{times[i]}{dash}{times[i + 1]}" for i in range(0, len(times), 2))
            lines.append(f"{days} {spans}")
        wd = run_end + 1
    return lines
