"""The interpreter sections of a city file: languages, interpreters, their hours."""

from __future__ import annotations

from datetime import time

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.city_file import parse_city_yaml
from scheduler.errors import ImportFileError
from scheduler.importer import import_city
from scheduler.models import Interpreter, InterpreterLanguage

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

TEXT = """\
interpreter_languages:
  - code: jsl
    name_ja: 手話
    name_en: Japanese Sign Language
  - code: pt
    name_ja: ポルトガル語
    name_en: Portuguese
interpreters:
  - slug: silva
    name: シルバ アナ
    email: silva@interp.example
    languages: [pt, jsl]
    hours:
      tue: ["09:00-12:00", "13:00-16:00"]
"""


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_languages_and_interpreters_are_imported_and_updated(db: Session) -> None:
    report = import_city(db, parse_city_yaml(TEXT, "city.yaml"), hasher=FAST)
    assert report.interpreter_languages.created == 2 and report.interpreters.created == 1
    person = db.scalars(select(Interpreter).where(Interpreter.slug == "silva")).one()
    assert person.language_codes == ["jsl", "pt"]
    assert [(h.weekday, h.start, h.end) for h in person.hours] == [
        (1, time(9), time(12)),
        (1, time(13), time(16)),
    ]
    languages = db.scalars(select(InterpreterLanguage).order_by(InterpreterLanguage.sort_order))
    assert [lang.code for lang in languages] == ["jsl", "pt"]

    again = import_city(db, parse_city_yaml(TEXT, "city.yaml"), hasher=FAST)
    assert again.interpreters.unchanged == 1 and again.interpreter_languages.unchanged == 2
    # Reordering the languages is no change; new hours are.
    edited = TEXT.replace("[pt, jsl]", "[jsl, pt]").replace('"13:00-16:00"', '"13:00-17:00"')
    changed = import_city(db, parse_city_yaml(edited, "city.yaml"), hasher=FAST)
    assert changed.interpreters.updated == 1
    db.refresh(person)
    assert person.hours[-1].end == time(17)


def test_unknown_and_duplicate_entries_are_reported(db: Session) -> None:
    text = TEXT.replace("[pt, jsl]", "[pt, vi, pt]")
    with pytest.raises(ImportFileError) as info:
        import_city(db, parse_city_yaml(text, "city.yaml"), hasher=FAST)
    assert "interpreters[0].languages[2]: duplicate entry 'pt'" in str(info.value)
    text = TEXT.replace("[pt, jsl]", "[pt, vi]")
    with pytest.raises(ImportFileError) as info:
        import_city(db, parse_city_yaml(text, "city.yaml"), hasher=FAST)
    assert str(info.value) == (
        f"city.yaml:{line_of(text, '[pt, vi]')}: interpreters[0].languages[1]: "
        "unknown language 'vi'"
    )
    assert db.scalars(select(Interpreter)).all() == []
    with pytest.raises(ImportFileError, match="code"):
        parse_city_yaml(TEXT.replace("code: pt", "code: Portuguese"), "city.yaml")
