"""Form templates of the city file's ``forms:`` section (pure: pydantic, no I/O).

A template is the one definition of a form: its fields with their types and
rules, and the layout it prints to. ``definition_json`` is what the database
keeps and what both validators (``app/forms/validation.py`` and the
browser's) read. The format is described in docs/forms.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "PREFILL_KEYS",
    "Condition",
    "FieldDef",
    "FormLayout",
    "FormTemplateEntry",
    "definition_json",
    "template_problems",
]

FieldType = Literal[
    "text", "kana", "date", "postal_code", "address", "phone", "choice", "checkbox", "group"
]
PREFILL_KEYS = ("name", "kana", "birth_date", "postal_code", "address", "phone", "email")
PrefillKey = Literal["name", "kana", "birth_date", "postal_code", "address", "phone", "email"]

# The longest a field may be, and each type's default.
MAX_LENGTH = 2000
DEFAULT_LENGTH = {"text": 100, "kana": 100, "address": 200}
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]*")
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")

Loc = tuple[str | int, ...]


def _check_name(value: str) -> str:
    if len(value) > 40 or not _FIELD_NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a field name: use lowercase letters, digits and '_', "
            "starting with a letter (at most 40 characters)"
        )
    return value


def _check_slug(value: str) -> str:
    if len(value) > 60 or not _SLUG.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a slug: use lowercase letters, digits and '-' "
            "(at most 60 characters)"
        )
    return value


FieldName = Annotated[str, AfterValidator(_check_name)]
Slug = Annotated[str, AfterValidator(_check_slug)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Help = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]
OptionValue = Annotated[str, StringConstraints(min_length=1, max_length=60)]


class _Entry(BaseModel):
    # strict like the rest of the city file: "true" (quoted) is a mistake.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


class Condition(_Entry):
    """A rule on another field's normalised value: exactly one of the three tests."""

    field: FieldName
    equals: str | bool | None = None
    in_: list[str] | None = Field(default=None, alias="in", min_length=1)
    filled: Literal[True] | None = None


class Option(_Entry):
    value: OptionValue
    label_ja: Label
    label_en: Label


class FieldDef(_Entry):
    name: FieldName
    type: FieldType
    label_ja: Label
    label_en: Label
    help_ja: Help = ""
    help_en: Help = ""
    required: bool = False
    required_if: Condition | None = None
    shown_if: Condition | None = None
    prefill: PrefillKey | None = None
    max_length: Annotated[int, Field(ge=1, le=MAX_LENGTH)] | None = None
    multiline: bool = False
    options: list[Option] = Field(default_factory=list)
    fields: list[FieldDef] = Field(default_factory=list)
    min: Annotated[int, Field(ge=0, le=50)] = 0
    max: Annotated[int, Field(ge=1, le=50)] = 10


class Section(_Entry):
    title_ja: Label
    title_en: Label
    fields: list[FieldName]


class Page(_Entry):
    title_ja: Label
    title_en: Label
    sections: list[Section]


class FormLayout(_Entry):
    pages: list[Page]


class FormTemplateEntry(_Entry):
    slug: Slug
    service: Slug
    title_ja: Label
    title_en: Label
    active: bool = True
    fields: Annotated[list[FieldDef], Field(min_length=1)]
    layout: FormLayout


# -- checks across a template's parts --------------------------------------------------


def _duplicates(items: Iterable[tuple[Loc, str]], what: str) -> Iterator[tuple[Loc, str]]:
    seen: set[str] = set()
    for loc, key in items:
        if key in seen:
            yield loc, f"duplicate {what} {key!r}"
        seen.add(key)


def _field_problems(loc: Loc, field: FieldDef, in_group: bool) -> Iterator[tuple[Loc, str]]:
    kind = field.type
    if kind == "group":
        if in_group:
            yield (*loc, "type"), "a group cannot hold another group"
        if not field.fields:
            yield (*loc, "fields"), "a group needs fields"
        if field.min > field.max:
            yield (*loc, "min"), f"min {field.min} is more than max {field.max}"
        if field.prefill is not None:
            yield (*loc, "prefill"), "a group cannot be pre-filled"
    elif field.fields:
        yield (*loc, "fields"), "only a group has fields"
    if kind == "choice":
        if not field.options:
            yield (*loc, "options"), "a choice needs options"
        yield from _duplicates(
            (((*loc, "options", i, "value"), o.value) for i, o in enumerate(field.options)),
            "option value",
        )
    elif field.options:
        yield (*loc, "options"), "only a choice has options"
    if field.max_length is not None and kind not in DEFAULT_LENGTH:
        yield (*loc, "max_length"), f"a {kind} field has no max_length"
    if field.multiline and kind != "text":
        yield (*loc, "multiline"), "only a text field can be multiline"
    if in_group and field.prefill is not None:
        yield (*loc, "prefill"), "fields inside a group cannot be pre-filled"


def _condition_problems(
    loc: Loc,
    cond: Condition,
    own: FieldDef,
    siblings: dict[str, FieldDef],
    top: dict[str, FieldDef],
) -> Iterator[tuple[Loc, str]]:
    tests = [t for t in (cond.equals, cond.in_, cond.filled) if t is not None]
    if len(tests) != 1:
        yield loc, "give exactly one of equals, in, filled"
    target = siblings.get(cond.field) or top.get(cond.field)
    if target is None:
        yield (*loc, "field"), f"unknown field {cond.field!r}"
        return
    if target is own:
        yield (*loc, "field"), "a field cannot depend on itself"
        return
    if target.type == "group":
        yield (*loc, "field"), f"{cond.field!r} is a group"
        return
    values: list[str | bool] = []
    if cond.equals is not None:
        values.append(cond.equals)
    if cond.in_ is not None:
        values.extend(cond.in_)
    for value in values:
        if target.type == "checkbox" and not isinstance(value, bool):
            yield (*loc, "field"), f"{cond.field!r} is a checkbox: compare it with true or false"
        elif target.type != "checkbox" and isinstance(value, bool):
            yield (*loc, "field"), f"{cond.field!r} is not a checkbox: compare it with text"
        elif target.type == "choice" and value not in {o.value for o in target.options}:
            yield (*loc, "field"), f"{value!r} is not an option of {cond.field!r}"


def _depends_on(field: FieldDef) -> set[str]:
    return {c.field for c in (field.shown_if, field.required_if) if c is not None}


def _cycles(loc: Loc, fields: list[FieldDef]) -> Iterator[tuple[Loc, str]]:
    """A condition chain that comes back to where it started."""
    by_name = {f.name: f for f in fields}
    for i, field in enumerate(fields):
        seen: set[str] = set()
        todo = list(_depends_on(field))
        while todo:
            name = todo.pop()
            if name == field.name:
                yield (*loc, i, "shown_if"), f"conditions of {field.name!r} form a cycle"
                break
            if name in seen or name not in by_name:
                continue
            seen.add(name)
            todo.extend(_depends_on(by_name[name]))


def template_problems(template: FormTemplateEntry) -> list[tuple[Loc, str]]:
    """Every problem of one template, with its place inside the template."""
    found: list[tuple[Loc, str]] = []
    top = {f.name: f for f in template.fields}
    found += _duplicates(
        ((("fields", i, "name"), f.name) for i, f in enumerate(template.fields)), "field"
    )
    found += _duplicates(
        (
            (("fields", i, "prefill"), f.prefill)
            for i, f in enumerate(template.fields)
            if f.prefill is not None
        ),
        "prefill key",
    )
    for i, field in enumerate(template.fields):
        loc: Loc = ("fields", i)
        found += _field_problems(loc, field, in_group=False)
        for name in ("shown_if", "required_if"):
            cond = getattr(field, name)
            if cond is not None:
                found += _condition_problems((*loc, name), cond, field, {}, top)
        siblings = {f.name: f for f in field.fields}
        found += _duplicates(
            (((*loc, "fields", j, "name"), f.name) for j, f in enumerate(field.fields)), "field"
        )
        for j, sub in enumerate(field.fields):
            sub_loc: Loc = (*loc, "fields", j)
            found += _field_problems(sub_loc, sub, in_group=True)
            for name in ("shown_if", "required_if"):
                cond = getattr(sub, name)
                if cond is not None:
                    found += _condition_problems((*sub_loc, name), cond, sub, siblings, top)
        found += _cycles((*loc, "fields"), field.fields)
    found += _cycles(("fields",), template.fields)
    placed: set[str] = set()
    for p, page in enumerate(template.layout.pages):
        if not page.sections:
            found.append((("layout", "pages", p, "sections"), "a page needs sections"))
        for s, section in enumerate(page.sections):
            sec_loc: Loc = ("layout", "pages", p, "sections", s, "fields")
            if not section.fields:
                found.append((sec_loc, "a section needs fields"))
            for k, name in enumerate(section.fields):
                if name not in top:
                    found.append(((*sec_loc, k), f"unknown field {name!r}"))
                elif name in placed:
                    found.append(((*sec_loc, k), f"field {name!r} is placed twice"))
                placed.add(name)
    if not template.layout.pages:
        found.append((("layout", "pages"), "a layout needs pages"))
    for i, field in enumerate(template.fields):
        if field.name not in placed:
            found.append((("fields", i, "name"), f"field {field.name!r} is not in the layout"))
    return found


def _complete(field: FieldDef) -> dict[str, Any]:
    out = field.model_dump(mode="json", by_alias=True)
    if field.max_length is None and field.type in DEFAULT_LENGTH:
        out["max_length"] = DEFAULT_LENGTH[field.type]
    out["fields"] = [_complete(f) for f in field.fields]
    return out


def definition_json(template: FormTemplateEntry) -> dict[str, Any]:
    """The template with every default filled in: what is stored and served."""
    out = template.model_dump(mode="json", by_alias=True)
    out["fields"] = [_complete(f) for f in template.fields]
    return out
