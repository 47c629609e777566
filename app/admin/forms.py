"""Admin form fields: one declaration drives rendering, parsing and validation.

A ``Field`` says what a form field is (text, number, yes/no, choice …) and
its limits. ``parse`` turns submitted form data into typed values and a
message per invalid field; messages are English message ids with parameters,
translated by the page, so every error shows next to its field in the
reader's language.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Literal

Kind = Literal["text", "textarea", "int", "bool", "select", "multi", "password", "date", "datetime"]
Message = tuple[str, dict[str, object]]
Options = Sequence[tuple[str, str]]  # (value, label)

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
LOGIN = re.compile(r"[a-z0-9][a-z0-9._-]*")
# Loose on purpose (like the city file): the real check is a mail that arrives.
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
WINDOW = re.compile(r"^(\d{1,2}):(\d{2})\s*[-–~〜]\s*(\d{1,2}):(\d{2})$")
PASSWORD_MIN = 10

SLUG_HINT = "Lower-case letters, digits and hyphens, e.g. juminhyo. Used in links and YAML files."


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: Kind = "text"
    required: bool = False
    max_length: int = 200
    minimum: int | None = None
    maximum: int | None = None
    hint: str = ""
    pattern: Literal["slug", "login", "email"] | None = None
    autocomplete: str = "off"
    # For an optional number, blank means "none" (e.g. no daily cap).
    blank_is_none: bool = False


def message(text: str, **params: object) -> Message:
    return (text, params)


@dataclass
class Parsed:
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, Message] = field(default_factory=dict)
    # What the person typed, to show the form again unchanged.
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _get(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def _get_all(form: Any, name: str) -> list[str]:
    if hasattr(form, "getlist"):
        return [v for v in form.getlist(name) if isinstance(v, str)]
    value = form.get(name)
    return value if isinstance(value, list) else []


def parse(
    fields: Sequence[Field], form: Any, options: Mapping[str, Options] | None = None
) -> Parsed:
    """Typed values and per-field messages from submitted ``form`` data."""
    options = options or {}
    out = Parsed()
    for f in fields:
        if f.kind == "multi":
            allowed = {v for v, _ in options.get(f.name, ())}
            chosen = _get_all(form, f.name)
            out.raw[f.name] = chosen
            if any(c not in allowed for c in chosen):
                out.errors[f.name] = message("Choose from the list.")
            elif f.required and not chosen:
                out.errors[f.name] = message("Choose at least one.")
            out.values[f.name] = chosen
            continue
        if f.kind == "bool":
            out.raw[f.name] = out.values[f.name] = _get(form, f.name) in ("1", "on", "true")
            continue
        text = _get(form, f.name) if f.kind != "password" else str(form.get(f.name, ""))
        out.raw[f.name] = "" if f.kind == "password" else text
        error, value = _check(f, text, options.get(f.name, ()))
        if error is not None:
            out.errors[f.name] = error
        out.values[f.name] = value
    return out


def _check(f: Field, text: str, choices: Options) -> tuple[Message | None, Any]:
    if not text:
        if f.required:
            return message("Choose one." if f.kind == "select" else "This field is required."), None
        blank_none = f.blank_is_none or f.kind in ("select", "date", "datetime")
        return None, None if blank_none else _empty(f)
    if len(text) > f.max_length:
        return message("Use {max} characters or fewer.", max=f.max_length), None
    if f.kind == "int":
        try:
            number = int(text)
        except ValueError:
            return message("Enter a whole number, like 30."), None
        if f.minimum is not None and number < f.minimum:
            return message("Enter {min} or more.", min=f.minimum), None
        if f.maximum is not None and number > f.maximum:
            return message("Enter {max} or less.", max=f.maximum), None
        return None, number
    if f.kind == "select":
        if text not in {v for v, _ in choices}:
            return message("Choose from the list."), None
        return None, text
    if f.kind == "date":
        try:
            return None, date.fromisoformat(text)
        except ValueError:
            return message("Enter a date like 2026-12-03."), None
    if f.kind == "datetime":
        # A ``datetime-local`` input: wall-clock time in the city, no offset.
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return message("Enter a date and time like 2026-12-03 09:00."), None
        return None, moment.replace(tzinfo=None)
    if f.kind == "password" and len(text) < PASSWORD_MIN:
        return message("Use at least {min} characters.", min=PASSWORD_MIN), None
    if f.pattern == "slug" and not SLUG.fullmatch(text):
        return message("Use lower-case letters, digits and single hyphens only."), None
    if f.pattern == "login" and not LOGIN.fullmatch(text):
        return message("Use lower-case letters, digits, dots, hyphens and underscores."), None
    if f.pattern == "email" and not EMAIL.fullmatch(text):
        return message("Enter an email address, like name@city.example.jp."), None
    return None, text


def _empty(f: Field) -> Any:
    return 0 if f.kind == "int" else ""


def form_values(fields: Sequence[Field], obj: object) -> dict[str, Any]:
    """The values of ``obj`` as a form shows them (for editing)."""
    out: dict[str, Any] = {}
    for f in fields:
        value = getattr(obj, f.name, None)
        if f.kind == "bool":
            out[f.name] = bool(value)
        elif f.kind == "multi":
            out[f.name] = [str(v) for v in value or []]
        elif f.kind == "password" or value is None:
            out[f.name] = ""
        else:
            out[f.name] = str(value)
    return out


# -- hours -------------------------------------------------------------------------


Windows = list[tuple[time, time]]


def parse_windows(text: str) -> tuple[Windows, Message | None]:
    """``"08:30-12:00, 13:00-17:15"`` (blank: closed) as sorted, non-overlapping windows."""
    windows: Windows = []
    for part in re.split(r"[,、，\s]+(?=\d)", text.strip()):
        if not part:
            continue
        match = WINDOW.match(part.strip())
        if not match:
            return [], message("Write times like 08:30-12:00, 13:00-17:15.")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if max(h1, h2) > 23 or max(m1, m2) > 59:
            return [], message("Write times like 08:30-12:00, 13:00-17:15.")
        start, end = time(h1, m1), time(h2, m2)
        if not start < end:
            return [], message("{window}: the end must be after the start.", window=part.strip())
        windows.append((start, end))
    windows.sort()
    for (_, end), (start, _) in itertools.pairwise(windows):
        if start < end:
            return [], message("The times overlap.")
    return windows, None


def format_windows(windows: Sequence[tuple[time, time]]) -> str:
    return ", ".join(f"{s:%H:%M}-{e:%H:%M}" for s, e in windows)
