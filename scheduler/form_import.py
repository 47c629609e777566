"""Importing the ``forms:`` section of a city file into ``form_templates``.

Templates are matched by ``slug``; a template that changes gets the next
``version`` (forms already started keep the definition they copied). Like the
rest of the import, templates missing from the file are left alone: retire
one with ``active: false``.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.city_file import CityConfig
from scheduler.errors import ImportFileError
from scheduler.form_templates import definition_json
from scheduler.models import FormTemplate, Service
from scheduler.yaml_source import Problem, SourceMap

# ``KindCounts.count`` of the import report: count(created=…, changed=…).
Count = Callable[..., None]


def check_form_services(session: Session, config: CityConfig, source: SourceMap) -> None:
    """Every template's service is in the file or the database; else ImportFileError."""
    known = set(session.scalars(select(Service.slug)))
    known |= {s.slug for s in config.services}
    problems: list[Problem] = [
        source.problem(("forms", i, "service"), f"unknown service {form.service!r}")
        for i, form in enumerate(config.forms)
        if form.service not in known
    ]
    if problems:
        raise ImportFileError(source.filename, problems)


def import_forms(session: Session, config: CityConfig, count: Count) -> None:
    if not config.forms:
        return
    services = {s.slug: s for s in session.scalars(select(Service))}
    existing = {t.slug: t for t in session.scalars(select(FormTemplate))}
    for entry in config.forms:
        values = {
            "service_id": services[entry.service].id,
            "title_ja": entry.title_ja,
            "title_en": entry.title_en,
            "definition": definition_json(entry),
            "active": entry.active,
        }
        row = existing.get(entry.slug)
        if row is None:
            session.add(FormTemplate(slug=entry.slug, version=1, **values))
            count(created=True, changed=True)
            continue
        changed = False
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
                changed = True
        if changed:
            row.version += 1
        count(created=False, changed=changed)
