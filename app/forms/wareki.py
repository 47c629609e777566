"""Dates as Japanese forms write them: 和暦 (era and year) and 西暦 (pure).

``parse_date`` reads what staff type (令和7年4月1日, R7.4.1, 平成31/4/30,
2025-04-01, 2025年4月1日, full-width digits) and refuses impossible days,
year 0 and dates outside their era; ``format_wareki`` writes a date back in
its era. The eras and their first and last days are in docs/forms.md.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

__all__ = ["ERAS", "Era", "format_wareki", "parse_date"]


@dataclass(frozen=True, slots=True)
class Era:
    name: str
    letter: str
    first: date
    last: date | None  # None: the current era

    def contains(self, day: date) -> bool:
        return self.first <= day and (self.last is None or day <= self.last)


ERAS: tuple[Era, ...] = (
    # 明治 before 6年 counted days by the old calendar, which this does not convert.
    Era("明治", "M", date(1873, 1, 1), date(1912, 7, 29)),
    Era("大正", "T", date(1912, 7, 30), date(1926, 12, 24)),
    Era("昭和", "S", date(1926, 12, 25), date(1989, 1, 7)),
    Era("平成", "H", date(1989, 1, 8), date(2019, 4, 30)),
    Era("令和", "R", date(2019, 5, 1), None),
)
_BY_NAME = {e.name: e for e in ERAS} | {e.letter: e for e in ERAS}
# 明治's first year counts from 1868 even though the table starts in 1873.
_YEAR_ONE = {"明治": 1868, "大正": 1912, "昭和": 1926, "平成": 1989, "令和": 2019}

_WESTERN = re.compile(r"(\d{4})(?:[-/.](\d{1,2})[-/.](\d{1,2})|年(\d{1,2})月(\d{1,2})日?)")
_ERA = re.compile(
    r"(明治|大正|昭和|平成|令和|[MTSHR])(元|\d{1,2})"
    r"(?:[-/.](\d{1,2})[-/.](\d{1,2})|年(\d{1,2})月(\d{1,2})日?)"
)


def _clean(text: str) -> str:
    # NFKC: full-width digits and letters to ASCII; spaces mean nothing in a date.
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).upper()


def _day(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_date(text: str) -> date | None:
    """The date ``text`` names, or None when it names none (or an impossible one)."""
    cleaned = _clean(text)
    match = _WESTERN.fullmatch(cleaned)
    if match is not None:
        year, m1, d1, m2, d2 = match.groups()
        return _day(int(year), int(m1 or m2), int(d1 or d2))
    match = _ERA.fullmatch(cleaned)
    if match is None:
        return None
    name, era_year, m1, d1, m2, d2 = match.groups()
    era = _BY_NAME[name]
    number = 1 if era_year == "元" else int(era_year)
    if number < 1:
        return None
    found = _day(_YEAR_ONE[era.name] + number - 1, int(m1 or m2), int(d1 or d2))
    if found is None or not era.contains(found):
        return None
    return found


def format_wareki(day: date) -> str:
    """``令和7年4月1日``; ``令和元年5月1日`` for an era's first year; 西暦 before 明治6年."""
    for era in ERAS:
        if era.contains(day):
            number = day.year - _YEAR_ONE[era.name] + 1
            year = "元" if number == 1 else str(number)
            return f"{era.name}{year}年{day.month}月{day.day}日"
    return f"{day.year}年{day.month}月{day.day}日"
