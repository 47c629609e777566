"""The forms: section of a city file: templates imported, updated, and bad ones refused whole."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduler.city_file import parse_city_yaml
from scheduler.errors import ImportFileError
from scheduler.importer import import_city
from scheduler.models import Department, FormTemplate, Service

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

TEXT = """\
departments:
  - slug: shimin
    name_ja: 市民課
    name_en: Residents
    hours: {mon: ["08:30-17:15"]}
services:
  - slug: tennyu
    department: shimin
    name_ja: 転入
    name_en: Moving in
    duration: 30
forms:
  - slug: tennyu-todoke
    service: tennyu
    title_ja: 転入届
    title_en: Moving in
    fields:
      - {name: name, type: text, label_ja: 氏名, label_en: Name, required: true, prefill: name}
      - name: relation
        type: choice
        label_ja: 関係
        label_en: Relation
        options:
          - {value: self, label_ja: 本人, label_en: Self}
          - {value: agent, label_ja: 代理人, label_en: Agent}
      - name: reason
        type: text
        label_ja: 理由
        label_en: Reason
        shown_if: {field: relation, equals: agent}
      - name: members
        type: group
        label_ja: 世帯員
        label_en: Members
        min: 1
        max: 4
        fields:
          - {name: name, type: text, label_ja: 氏名, label_en: Name}
    layout:
      pages:
        - title_ja: 届出
          title_en: Notification
          sections:
            - title_ja: 届出人
              title_en: Notifier
              fields: [name, relation, reason]
            - title_ja: 世帯員
              title_en: Members
              fields: [members]
"""


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def refused(text: str) -> ImportFileError:
    with pytest.raises(ImportFileError) as caught:
        parse_city_yaml(text, "city.yaml")
    return caught.value


def test_a_template_is_imported_with_its_defaults_and_versioned_on_change(db: Session) -> None:
    report = import_city(db, parse_city_yaml(TEXT, "city.yaml"), hasher=FAST)
    assert report.forms.created == 1
    template = db.scalars(select(FormTemplate)).one()
    service = db.scalars(select(Service)).one()
    assert template.service_id == service.id and template.version == 1
    fields = template.definition["fields"]
    assert fields[0]["max_length"] == 100 and fields[0]["prefill"] == "name"
    assert fields[2]["shown_if"] == {
        "field": "relation",
        "equals": "agent",
        "in": None,
        "filled": None,
    }
    assert fields[3]["fields"][0]["max_length"] == 100 and fields[3]["max"] == 4

    again = import_city(db, parse_city_yaml(TEXT, "city.yaml"), hasher=FAST)
    assert again.forms.unchanged == 1 and template.version == 1
    edited = TEXT.replace("title_ja: 転入届", "title_ja: 転入届（第2版）")
    changed = import_city(db, parse_city_yaml(edited, "city.yaml"), hasher=FAST)
    assert changed.forms.updated == 1 and template.version == 2
    assert template.definition["title_ja"] == "転入届（第2版）"


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        # A condition on a field that does not exist.
        (
            "shown_if: {field: relation,",
            "shown_if: {field: relatoin,",
            "shown_if",
            "unknown field 'relatoin'",
        ),
        # A condition's value that is not an option.
        ("equals: agent}", "equals: proxy}", "shown_if", "'proxy' is not an option of 'relation'"),
        # A field left out of the layout.
        (
            "fields: [name, relation, reason]",
            "fields: [name, relation]",
            "name: reason",
            "field 'reason' is not in the layout",
        ),
        # The layout names a field twice, and one that does not exist.
        (
            "fields: [members]",
            "fields: [members, name, age]",
            "fields: [members, name, age]",
            "placed twice",
        ),
        (
            "fields: [members]",
            "fields: [members, age]",
            "fields: [members, age]",
            "unknown field 'age'",
        ),
        # Group bounds the wrong way round.
        ("min: 1", "min: 5", "min: 5", "min 5 is more than max 4"),
        # An unknown field type, and a name that is not an identifier.
        ("type: choice", "type: radio", "type: radio", "Input should be"),
        ("- name: reason", "- name: Reason", "name: Reason", "is not a field name"),
        # Two fields with one name.
        ("- name: reason", "- name: relation", "label_ja: 理由", "duplicate field 'relation'"),
        # A group inside a group.
        (
            "- {name: name, type: text, label_ja: 氏名, label_en: Name}",
            "- {name: inner, type: group, label_ja: 内, label_en: Inner, fields: [{name: x, type: text, label_ja: x, label_en: x}]}",
            "name: inner",
            "a group cannot hold another group",
        ),
        # Options on a text field; a choice without options.
        (
            "label_en: Reason",
            "label_en: Reason\n        options: [{value: a, label_ja: a, label_en: a}]",
            "options: [{value: a",
            "only a choice has options",
        ),
        # A condition that depends on itself.
        (
            "shown_if: {field: relation, equals: agent}",
            "shown_if: {field: reason, filled: true}",
            "shown_if",
            "cannot depend on itself",
        ),
        # Unknown keys are mistakes, not extensions.
        (
            "title_en: Moving in\n    fields:",
            "title_en: Moving in\n    colour: red\n    fields:",
            "colour: red",
            "unknown field",
        ),
    ],
)
def test_a_bad_template_fails_the_whole_file_with_its_line(
    old: str, new: str, needle: str, message: str
) -> None:
    assert old in TEXT
    text = TEXT.replace(old, new, 1)
    error = refused(text)
    assert any(message in p[2] for p in error.problems), error.problems
    assert str(error).startswith("city.yaml:")
    lines = [p[0] for p in error.problems if message in p[2]]
    assert line_of(text, needle) in lines or any(
        p[1].startswith("forms[0]") for p in error.problems
    )


def test_an_unknown_service_writes_nothing(db: Session) -> None:
    text = TEXT.replace("    service: tennyu", "    service: tenshutsu")
    with pytest.raises(ImportFileError) as caught:
        import_city(db, parse_city_yaml(text, "city.yaml"), hasher=FAST)
    assert caught.value.problems == [
        (line_of(text, "service: tenshutsu"), "forms[0].service", "unknown service 'tenshutsu'")
    ]
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Department)) == 0
    assert db.scalar(select(func.count()).select_from(FormTemplate)) == 0
