"""Importing the ``interpreter_languages`` and ``interpreters`` sections of a city file.

Languages are matched by ``code``, interpreters by ``slug``; like the rest
of the import, entries missing from the file are left alone (deactivate an
interpreter with ``active: false``). An interpreter's weekly hours are
replaced by the file's.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from scheduler.city_file import CityConfig
from scheduler.errors import ImportFileError
from scheduler.models import Interpreter, InterpreterHours, InterpreterLanguage
from scheduler.yaml_source import Problem, SourceMap

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# ``KindCounts.count`` of the import report: count(created=…, changed=…).
Count = Callable[..., None]


def check_interpreter_languages(session: Session, config: CityConfig, source: SourceMap) -> None:
    """Every interpreter's languages are in the file or the database; else ImportFileError."""
    known = {row for row in session.scalars(select(InterpreterLanguage.code))}
    known |= {lang.code for lang in config.interpreter_languages}
    problems: list[Problem] = [
        source.problem(("interpreters", i, "languages", j), f"unknown language {code!r}")
        for i, person in enumerate(config.interpreters)
        for j, code in enumerate(person.languages)
        if code not in known
    ]
    if problems:
        raise ImportFileError(source.filename, problems)


def import_interpreter_languages(session: Session, config: CityConfig, count: Count) -> None:
    existing = {row.code: row for row in session.scalars(select(InterpreterLanguage))}
    for position, entry in enumerate(config.interpreter_languages):
        values: dict[str, object] = {
            "name_ja": entry.name_ja,
            "name_en": entry.name_en,
            "sort_order": position if entry.sort_order is None else entry.sort_order,
            "active": entry.active,
        }
        if entry.name_native is not None:
            values["name_native"] = entry.name_native
        row = existing.get(entry.code)
        if row is None:
            session.add(InterpreterLanguage(code=entry.code, **values))
            count(created=True, changed=True)
            continue
        changed = False
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
                changed = True
        count(created=False, changed=changed)


def import_interpreters(session: Session, config: CityConfig, count: Count) -> None:
    slugs = [e.slug for e in config.interpreters]
    people: dict[str, Interpreter] = {}
    if slugs:
        people = {
            p.slug: p
            for p in session.scalars(
                select(Interpreter)
                .where(Interpreter.slug.in_(slugs))
                .options(selectinload(Interpreter.hours))
            )
        }
    for entry in config.interpreters:
        values = {
            "name": entry.name,
            "email": entry.email,
            # Canonical order, so reordering the list in the file is not a change.
            "languages": ",".join(sorted(entry.languages)),
            "active": entry.active,
            "locale": entry.locale,
        }
        person = people.get(entry.slug)
        created = person is None
        changed = created
        if person is None:
            person = Interpreter(slug=entry.slug, **values)
            session.add(person)
        else:
            for name, value in values.items():
                if getattr(person, name) != value:
                    setattr(person, name, value)
                    changed = True
        wanted = sorted(
            (WEEKDAYS.index(day), start, end)
            for day, windows in entry.hours.items()
            for start, end in windows
        )
        current = sorted((h.weekday, h.start, h.end) for h in person.hours)
        if wanted != current:
            person.hours = [InterpreterHours(weekday=d, start=s, end=e) for d, s, e in wanted]
            changed = True
        count(created=created, changed=changed)
