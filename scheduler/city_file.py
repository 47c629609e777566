"""Reading a city configuration file (YAML) into validated, typed data.

``load_city_file`` parses the YAML keeping the line of every key and list
item, validates it with the pydantic models below, and then runs the checks
that span several entries (duplicate slugs, dates listed twice …). Every
problem found is collected and raised as one ``ImportFileError`` whose lines
read ``city.yaml:42: staff[3].skills[1]: unknown service 'juminhyo-x'``
(list indexes count from 0, as in the field paths of most tools).

References between entries (a service's department, a staff member's
departments and skills) are resolved by ``scheduler.importer.import_city``,
because a file may also name entries that are already in the database.

The format, section by section (``app/ops/demo_city.yaml`` is a full example)::

    demo: false            # true allows plain-text staff passwords
    city: {name_ja, name_en, close_public_holidays, close_year_end,
           closed_days: [{date: 2026-10-16, note: …}]}
    departments: [{slug, name_ja, name_en, description_ja, description_en,
                   sort_order, hours: {mon: ["08:30-12:00", "13:00-17:15"], …},
                   overrides: [{date, hours: [] | ["09:00-12:00"], note}]}]
    services: [{slug, department, name_ja, name_en, description_ja,
                description_en, duration, buffer_before, buffer_after,
                slot_step, channels: [online, kiosk], min_notice,
                horizon_days, daily_cap, change_cutoff, active, sort_order,
                rush, rush_opens_at: 2027-01-05T09:00+09:00}]
    staff: [{login, display_name, email, departments, skills, hours,
             leave: [{from, to, note}], overrides, is_admin, active,
             password | password_hash}]
    branches: [{slug, name_ja, name_en, address, address_en,
                kiosks: [{slug, name, name_en, active}]}]
    interpreter_languages: [{code, name_ja, name_en, name_native, sort_order, active}]
                                         # code: pt, zh, jsl …
    interpreters: [{slug, name, email, languages: [pt, en], hours, active, locale}]
    forms: [{slug, service, title_ja, title_en, active, fields: […], layout: {pages: […]}}]
                                         # form templates: docs/forms.md

Durations (``duration``, buffers, ``slot_step``, ``min_notice``,
``change_cutoff``) are minutes; weekdays are ``mon`` … ``sun``; times are
``HH:MM`` wall-clock times in the city's time zone; leave instants are ISO
datetimes with an offset (``2026-12-21T09:00+09:00``).

English pages show each ``*_en`` form; a branch's ``address_en`` and a
kiosk's ``name_en`` are optional (empty: English pages show the Japanese
form; left out, a re-import keeps what the database has, e.g. set by an
administrator), as are the ``description_en`` texts; names of the city,
departments, services, branches and interpreter languages need both.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
)

from scheduler.errors import ImportFileError
from scheduler.form_templates import FormTemplateEntry, template_problems
from scheduler.yaml_source import (
    Loc,
    Problem,
    SourceMap,
    YamlProblems,
    compose_with_lines,
    format_loc,
)

__all__ = [
    "WEEKDAYS",
    "BranchEntry",
    "CityConfig",
    "CitySection",
    "DepartmentEntry",
    "KioskEntry",
    "LeaveEntry",
    "OverrideEntry",
    "ServiceEntry",
    "SourceMap",
    "StaffEntry",
    "Weekday",
    "load_city_file",
    "parse_city_yaml",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# -- field types ----------------------------------------------------------------

_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_LOGIN = re.compile(r"[a-z0-9][a-z0-9._-]*")
# Loose on purpose: real validation is a mail that arrives.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_WINDOW = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")


def _check_slug(value: str) -> str:
    if len(value) > 60 or not _SLUG.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a slug: use lowercase letters, digits and '-' "
            "(at most 60 characters), e.g. 'kokuho-kanyu'"
        )
    return value


def _check_login(value: str) -> str:
    if len(value) > 60 or not _LOGIN.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a login: use lowercase letters, digits, '.', '_' and '-' "
            "(at most 60 characters)"
        )
    return value


def _check_email(value: str) -> str:
    if len(value) > 200 or not _EMAIL.fullmatch(value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


def _check_argon2(value: str) -> str:
    # Staff login verifies with argon2; any other hash could never match.
    if not value.startswith("$argon2"):
        raise ValueError("password_hash must be an argon2 hash ('$argon2id$…')")
    return value


def _parse_window(value: object) -> tuple[time, time]:
    match = _WINDOW.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not a time range like '08:30-12:00'")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    try:
        start, end = time(h1, m1), time(h2, m2)
    except ValueError:
        raise ValueError(f"{value!r} contains an impossible time") from None
    if not start < end:
        raise ValueError(f"{value!r} ends before it starts")
    return (start, end)


def _check_day_windows(windows: list[tuple[time, time]]) -> list[tuple[time, time]]:
    ordered = sorted(windows)
    for first, second in itertools.pairwise(ordered):
        if second[0] < first[1]:
            raise ValueError(f"time ranges {_fmt(first)} and {_fmt(second)} overlap")
    return ordered


def _fmt(window: tuple[time, time]) -> str:
    return f"{window[0]:%H:%M}-{window[1]:%H:%M}"


def _parse_date(value: object) -> date:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(value.strip())
    raise ValueError(f"{value!r} is not a date like 2026-12-28")


def _parse_aware_datetime(value: object) -> datetime:
    parsed: datetime | None = None
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            parsed = datetime.fromisoformat(value.strip())
    if parsed is None:
        raise ValueError(f"{value!r} is not a date and time like 2026-12-21T09:00+09:00")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        # A naive time would silently mean UTC on one backend and local on another.
        raise ValueError(f"{value!r} needs a UTC offset, e.g. 2026-12-21T09:00+09:00")
    return parsed


def _online_only() -> list[ChannelName]:
    return ["online"]


def _check_channels(channels: list[str]) -> list[str]:
    if not channels:
        raise ValueError("at least one channel is needed: online, kiosk")
    if len(set(channels)) != len(channels):
        raise ValueError("a channel is listed twice")
    return channels


def _text(max_length: int, *, min_length: int = 0) -> Any:
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)


Slug = Annotated[str, AfterValidator(_check_slug)]
Login = Annotated[str, AfterValidator(_check_login)]
Email = Annotated[str, AfterValidator(_check_email)]
IsoDate = Annotated[date, BeforeValidator(_parse_date)]
AwareDateTime = Annotated[datetime, BeforeValidator(_parse_aware_datetime)]
Window = Annotated[tuple[time, time], BeforeValidator(_parse_window)]
DayWindows = Annotated[list[Window], AfterValidator(_check_day_windows)]
ChannelName = Literal["online", "kiosk"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WeeklyHours = dict[Weekday, DayWindows]
Name100 = Annotated[str, _text(100, min_length=1)]
Name120 = Annotated[str, _text(120, min_length=1)]
Note = Annotated[str, _text(200)]
LongText = Annotated[str, _text(4000)]
Minutes = Annotated[int, Field(ge=0, le=7 * 24 * 60)]


class _Entry(BaseModel):
    # strict: YAML already typed every scalar, so "30" (quoted) for a number
    # or "yes" for a boolean is a mistake to report, not to coerce.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# -- the sections -----------------------------------------------------------------


class ClosedDay(_Entry):
    date: IsoDate
    note: Note = ""


class CitySection(_Entry):
    name_ja: Name100
    name_en: Name100
    close_public_holidays: bool = True
    close_year_end: bool = True  # 12/29 - 1/3
    closed_days: list[ClosedDay] = Field(default_factory=list)


class OverrideEntry(_Entry):
    """Hours of one date: ``hours: []`` (the default) closes the day."""

    date: IsoDate
    hours: DayWindows = Field(default_factory=list)
    note: Note = ""


class DepartmentEntry(_Entry):
    slug: Slug
    name_ja: Name100
    name_en: Name100
    description_ja: LongText = ""
    description_en: LongText = ""
    sort_order: int | None = None  # default: position in the file
    hours: WeeklyHours
    overrides: list[OverrideEntry] = Field(default_factory=list)


class ServiceEntry(_Entry):
    slug: Slug
    department: Slug
    name_ja: Name120
    name_en: Name120
    # Plain-language "what to prepare", shown before booking.
    description_ja: LongText = ""
    description_en: LongText = ""
    duration: Annotated[int, Field(gt=0, le=8 * 60)]
    buffer_before: Annotated[int, Field(ge=0, le=4 * 60)] = 0
    buffer_after: Annotated[int, Field(ge=0, le=4 * 60)] = 0
    slot_step: Annotated[int, Field(gt=0, le=8 * 60)] | None = None
    channels: Annotated[list[ChannelName], AfterValidator(_check_channels)] = Field(
        default_factory=_online_only
    )
    min_notice: Minutes = 120
    horizon_days: Annotated[int, Field(ge=1, le=730)] = 60
    daily_cap: Annotated[int, Field(ge=0)] | None = None
    change_cutoff: Minutes = 120
    active: bool = True
    sort_order: int | None = None  # default: position in the file
    # An opening-day rush: booking goes through the admission queue (docs/rush.md),
    # open from ``rush_opens_at`` (an ISO datetime with an offset) if given.
    rush: bool = False
    rush_opens_at: AwareDateTime | None = None


class LeaveEntry(_Entry):
    start: AwareDateTime = Field(alias="from")
    end: AwareDateTime = Field(alias="to")
    note: Note = ""


class StaffEntry(_Entry):
    login: Login
    display_name: Name100
    email: Email | None = None
    departments: list[Slug] = Field(default_factory=list)
    skills: list[Slug] = Field(default_factory=list)
    # None: the union of the departments' weekly hours.
    hours: WeeklyHours | None = None
    leave: list[LeaveEntry] = Field(default_factory=list)
    overrides: list[OverrideEntry] = Field(default_factory=list)
    is_admin: bool = False
    active: bool = True
    # Plain text only in a ``demo: true`` file; hashed with argon2 on import.
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    password_hash: Annotated[str, AfterValidator(_check_argon2)] | None = None


class KioskEntry(_Entry):
    slug: Slug
    name: Name100
    # For English pages (北支所 リモート窓口 → North Branch remote counter); "" shows
    # ``name``; left out, a re-import keeps what the database has.
    name_en: Annotated[str, _text(100)] | None = None
    active: bool = True


class BranchEntry(_Entry):
    slug: Slug
    name_ja: Name100
    name_en: Name100
    address: Annotated[str, _text(300)] = ""
    # For English pages; "" shows ``address``; left out, a re-import keeps it.
    address_en: Annotated[str, _text(300)] | None = None
    kiosks: list[KioskEntry] = Field(default_factory=list)


class InterpreterLanguageEntry(_Entry):
    # Short lower-case codes: ISO 639-1 ("pt", "zh", "vi") or "jsl" (Japanese Sign Language).
    code: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,19}$")]
    name_ja: Name100
    name_en: Name100
    # In the language's own script (Português, 中文, 手話): the kiosk's button.
    name_native: Annotated[str, _text(100)] | None = None
    sort_order: int | None = None  # default: position in the file
    active: bool = True


class InterpreterEntry(_Entry):
    slug: Slug
    name: Name100
    email: Email | None = None
    languages: Annotated[list[str], Field(min_length=1)]
    hours: WeeklyHours
    active: bool = True
    locale: Literal["ja", "en"] = "ja"  # the language of their mails


class CityConfig(_Entry):
    """A whole city file; every section is optional (a file may update a part)."""

    demo: bool = False
    city: CitySection | None = None
    departments: list[DepartmentEntry] = Field(default_factory=list)
    services: list[ServiceEntry] = Field(default_factory=list)
    staff: list[StaffEntry] = Field(default_factory=list)
    branches: list[BranchEntry] = Field(default_factory=list)
    interpreter_languages: list[InterpreterLanguageEntry] = Field(default_factory=list)
    interpreters: list[InterpreterEntry] = Field(default_factory=list)
    forms: list[FormTemplateEntry] = Field(default_factory=list)

    _source: SourceMap = PrivateAttr(default_factory=SourceMap)

    @property
    def source(self) -> SourceMap:
        """File name and line numbers, for errors found later (at import)."""
        return self._source


# -- checks across entries ----------------------------------------------------------


def _duplicates(entries: Iterable[tuple[Loc, object]], what: str) -> list[tuple[Loc, str]]:
    first: dict[object, Loc] = {}
    found: list[tuple[Loc, str]] = []
    for loc, key in entries:
        if key in first:
            found.append((loc, f"duplicate {what} {key!r} (also at {format_loc(first[key])})"))
        else:
            first[key] = loc
    return found


def _check_overrides(loc: Loc, overrides: list[OverrideEntry]) -> list[tuple[Loc, str]]:
    return _duplicates(
        (((*loc, "overrides", i, "date"), o.date) for i, o in enumerate(overrides)), "date"
    )


def _cross_checks(config: CityConfig) -> list[tuple[Loc, str]]:
    found: list[tuple[Loc, str]] = []
    if config.city is not None:
        days = config.city.closed_days
        found += _duplicates(
            ((("city", "closed_days", i, "date"), d.date) for i, d in enumerate(days)), "date"
        )
    found += _duplicates(
        ((("departments", i, "slug"), d.slug) for i, d in enumerate(config.departments)),
        "department slug",
    )
    for i, dept in enumerate(config.departments):
        found += _check_overrides(("departments", i), dept.overrides)
    found += _duplicates(
        ((("services", i, "slug"), s.slug) for i, s in enumerate(config.services)),
        "service slug",
    )
    found += _duplicates(
        ((("staff", i, "login"), s.login) for i, s in enumerate(config.staff)), "login"
    )
    for i, person in enumerate(config.staff):
        loc: Loc = ("staff", i)
        for name in ("departments", "skills"):
            values: list[str] = getattr(person, name)
            found += _duplicates((((*loc, name, j), v) for j, v in enumerate(values)), "entry")
        for j, leave in enumerate(person.leave):
            if not leave.start < leave.end:
                found.append(((*loc, "leave", j, "to"), "leave ends before it starts"))
        found += _check_overrides(loc, person.overrides)
        if person.password is not None and person.password_hash is not None:
            found.append(((*loc, "password"), "give either password or password_hash, not both"))
        elif person.password is not None and not config.demo:
            # A plain-text password in a production file would sit in backups
            # and version control; only the demo city may carry one.
            found.append(
                (
                    (*loc, "password"),
                    "plain-text passwords are only allowed in a demo file "
                    "(demo: true); give password_hash instead",
                )
            )
    found += _duplicates(
        ((("branches", i, "slug"), b.slug) for i, b in enumerate(config.branches)),
        "branch slug",
    )
    found += _duplicates(
        (
            (("branches", i, "kiosks", j, "slug"), k.slug)
            for i, b in enumerate(config.branches)
            for j, k in enumerate(b.kiosks)
        ),
        "kiosk slug",
    )
    found += _duplicates(
        (
            (("interpreter_languages", i, "code"), lang.code)
            for i, lang in enumerate(config.interpreter_languages)
        ),
        "interpreter language",
    )
    found += _duplicates(
        ((("interpreters", i, "slug"), p.slug) for i, p in enumerate(config.interpreters)),
        "interpreter slug",
    )
    for i, interpreter in enumerate(config.interpreters):
        found += _duplicates(
            ((("interpreters", i, "languages", j), c) for j, c in enumerate(interpreter.languages)),
            "entry",
        )
    found += _duplicates(
        ((("forms", i, "slug"), f.slug) for i, f in enumerate(config.forms)), "form slug"
    )
    for i, form in enumerate(config.forms):
        found += [(("forms", i, *loc), message) for loc, message in template_problems(form)]
    return found


# -- entry points ----------------------------------------------------------------------


def _message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    message = str(error["msg"])
    value = error.get("input")
    if isinstance(value, str | int | float | bool):
        message += f", got {value!r}"
    return message


def _validation_problems(exc: ValidationError, source: SourceMap) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        # pydantic marks an invalid dict key with a "[key]" part after the key.
        loc = tuple(part for part in error["loc"] if part != "[key]")
        message = _message(error)
        if "[key]" in error["loc"]:
            message = f"invalid key: {message}"
        problems.append(source.problem(loc, message))
    return problems


def _by_line(
    problems: Iterable[Problem],
) -> list[Problem]:
    return sorted(problems, key=lambda p: p[0] or 0)


def parse_city_yaml(text: str, filename: str = "<config>") -> CityConfig:
    """Validate a city file's text; ``filename`` is only used in messages."""
    try:
        data, lines = compose_with_lines(text)
    except YamlProblems as exc:
        raise ImportFileError(filename, exc.problems) from None
    source = SourceMap(filename, lines)
    if not isinstance(data, dict):
        raise ImportFileError(filename, [(1, "", "the file must be a mapping of sections")])
    try:
        config = CityConfig.model_validate(data)
    except ValidationError as exc:
        raise ImportFileError(filename, _by_line(_validation_problems(exc, source))) from None
    found = _cross_checks(config)
    if found:
        raise ImportFileError(filename, _by_line(source.problem(loc, msg) for loc, msg in found))
    config._source = source
    return config


def load_city_file(path: Path) -> CityConfig:
    """Read and validate a city file; raises ``ImportFileError`` listing every problem."""
    filename = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFileError(filename, [(None, "", f"cannot read the file: {exc}")]) from exc
    return parse_city_yaml(text, filename)
