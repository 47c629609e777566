"""Validating and normalising a form's values against its template (pure, no I/O).

The template's definition (``scheduler.form_templates.definition_json``) is
the one definition: the browser's validator reads the same JSON and runs the
same cases (tests/forms/validation_cases.json). The rules, codes and
normalisations are listed in docs/forms.md.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.forms.wareki import parse_date

__all__ = ["INCOMPLETE", "FieldError", "Result", "condition_holds", "normalise_kana", "validate"]

# Codes that only say something is still missing: a draft may be saved with them.
INCOMPLETE = frozenset({"required", "too-few"})

MESSAGES = {
    "required": "This is required.",
    "too-few": "Add more entries.",
    "too-many": "There are too many entries.",
    "unknown-field": "This is not a field of the form.",
    "wrong-type": "This value has the wrong type.",
    "too-long": "This is too long.",
    "invalid-characters": "This contains characters that cannot be used.",
    "not-kana": "Use katakana only.",
    "invalid-date": "This is not a valid date.",
    "invalid-postal-code": "A postal code has 7 digits, like 123-4567.",
    "invalid-phone": "A phone number has 10 or 11 digits and starts with 0.",
    "invalid-choice": "Choose one of the options.",
}

Definition = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class FieldError:
    path: str
    code: str

    @property
    def message(self) -> str:
        return MESSAGES[self.code]

    @property
    def incomplete(self) -> bool:
        return self.code in INCOMPLETE


@dataclass(slots=True)
class Result:
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)

    @property
    def invalid(self) -> list[FieldError]:
        """Errors that make the values unusable (a save is refused)."""
        return [e for e in self.errors if not e.incomplete]

    @property
    def missing(self) -> list[FieldError]:
        return [e for e in self.errors if e.incomplete]


class _Invalid(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# -- normalising one value ----------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Hyphens and dashes people type between digits (NFKC has made "－" a "-").
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\u30fc\uff70()]+")
_KANA = re.compile(r"[\u30a1-\u30f6\u30fb\u30fc\u3000]*")


def _text(value: str, multiline: bool) -> str:
    value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if _CONTROL.search(value) or ("\n" in value and not multiline):
        raise _Invalid("invalid-characters")
    return value


def normalise_kana(value: str) -> str:
    """全角カタカナ: NFKC (半角カナ to 全角), ひらがな to カタカナ, one 全角 space between words."""
    value = unicodedata.normalize("NFKC", value)
    value = "".join(chr(ord(c) + 0x60) if "\u3041" <= c <= "\u3096" else c for c in value)
    return "\u3000".join(value.split())


def _postal(value: str) -> str:
    digits = unicodedata.normalize("NFKC", value).replace("〒", "")
    digits = _SEPARATORS.sub("", digits)
    if not re.fullmatch(r"\d{7}", digits):
        raise _Invalid("invalid-postal-code")
    return f"{digits[:3]}-{digits[3:]}"


def _phone(value: str) -> str:
    text = unicodedata.normalize("NFKC", value).strip()
    if text.startswith("+81"):
        text = "0" + text[3:].lstrip(" -(").replace(")", "-", 1)
    parts = [p for p in _SEPARATORS.split(text) if p]
    digits = "".join(parts)
    if not re.fullmatch(r"0\d{9,10}", digits):
        raise _Invalid("invalid-phone")
    if len(parts) > 1:
        return "-".join(parts)
    if len(digits) == 11 and digits[:3] in ("070", "080", "090", "050"):
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if len(digits) == 10 and digits[:4] in ("0120", "0800"):
        return f"{digits[:4]}-{digits[4:7]}-{digits[7:]}"
    return digits


def _scalar(spec: Definition, raw: Any) -> Any:
    """The normalised value of a non-group field, or ``_Invalid``."""
    kind = spec["type"]
    if kind == "checkbox":
        if raw is None:
            return False
        if not isinstance(raw, bool):
            raise _Invalid("wrong-type")
        return raw
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise _Invalid("wrong-type")
    if kind == "kana":
        value = normalise_kana(raw)
        if not _KANA.fullmatch(value):
            raise _Invalid("not-kana")
    elif kind in ("text", "address"):
        value = _text(raw, bool(spec.get("multiline")))
    else:
        value = raw.strip()
    if value == "":
        return ""
    if kind == "date":
        day = parse_date(value)
        if day is None:
            raise _Invalid("invalid-date")
        return day.isoformat()
    if kind == "postal_code":
        return _postal(value)
    if kind == "phone":
        return _phone(value)
    if kind == "choice":
        if value not in {o["value"] for o in spec["options"]}:
            raise _Invalid("invalid-choice")
        return value
    limit = spec.get("max_length")
    if limit is not None and len(value) > limit:
        raise _Invalid("too-long")
    return value


# -- conditions and the walk over the fields ------------------------------------------


def _filled(value: Any) -> bool:
    return value not in (None, "", False, [])


def condition_holds(
    cond: Mapping[str, Any] | None, own: Mapping[str, Any], top: Mapping[str, Any]
) -> bool:
    """Whether ``cond`` holds; ``own`` are the values of the same group item (or ``top``)."""
    if cond is None:
        return True
    name = cond["field"]
    value = own[name] if name in own else top.get(name)
    if cond.get("equals") is not None:
        return bool(value == cond["equals"])
    if cond.get("in") is not None:
        return value in cond["in"]
    return _filled(value)


def _ordered(fields: list[Definition]) -> list[Definition]:
    """Fields in an order where every condition's field comes before it.

    The importer refused cycles; values are still reported in template order.
    """
    names = {f["name"] for f in fields}
    done: list[Definition] = []
    placed: set[str] = set()
    pending = list(fields)
    while pending:
        for spec in pending:
            needs = {
                c["field"] for c in (spec.get("shown_if"), spec.get("required_if")) if c
            } & names
            if needs <= placed:
                done.append(spec)
                placed.add(spec["name"])
                pending.remove(spec)
                break
        else:  # a cycle: cannot happen with an imported template
            done.extend(pending)
            break
    return done


def _walk(
    fields: list[Definition],
    raw: Mapping[str, Any],
    prefix: str,
    top: Mapping[str, Any] | None,
    errors: dict[str, list[FieldError]],
) -> dict[str, Any]:
    known = {f["name"] for f in fields}
    out: dict[str, Any] = {}
    for name in raw:
        if name not in known:
            errors.setdefault(name, []).append(FieldError(f"{prefix}{name}", "unknown-field"))
    for spec in _ordered(fields):
        name = spec["name"]
        path = f"{prefix}{name}"
        scope_top = out if top is None else top
        if not condition_holds(spec.get("shown_if"), out, scope_top):
            continue  # hidden: neither required nor kept
        found: list[FieldError] = []
        required = bool(spec.get("required")) or (
            spec.get("required_if") is not None
            and condition_holds(spec["required_if"], out, scope_top)
        )
        if spec["type"] == "group":
            out[name] = _group(spec, raw.get(name), path, out, found, errors)
            if required and not out[name] and spec.get("min", 0) == 0:
                found.append(FieldError(path, "required"))
        else:
            try:
                out[name] = _scalar(spec, raw.get(name))
            except _Invalid as exc:
                out[name] = "" if spec["type"] != "checkbox" else False
                found.append(FieldError(path, exc.code))
            else:
                if required and not _filled(out[name]):
                    found.append(FieldError(path, "required"))
        if found:
            errors.setdefault(name, []).extend(found)
    # Stored in the template's order, whatever order the conditions needed.
    return {f["name"]: out[f["name"]] for f in fields if f["name"] in out}


def _group(
    spec: Definition,
    raw: Any,
    path: str,
    top: Mapping[str, Any],
    found: list[FieldError],
    errors_of_top: dict[str, list[FieldError]],
) -> list[dict[str, Any]]:
    if raw is None:
        raw = []
    if not isinstance(raw, list) or not all(isinstance(i, dict) for i in raw):
        found.append(FieldError(path, "wrong-type"))
        return []
    items: list[dict[str, Any]] = []
    for index, item in enumerate(raw):
        item_errors: dict[str, list[FieldError]] = {}
        items.append(_walk(spec["fields"], item, f"{path}[{index}].", top, item_errors))
        found.extend(_in_order(spec["fields"], item, item_errors))
    if len(items) > spec.get("max", 10):
        found.append(FieldError(path, "too-many"))
    if len(items) < spec.get("min", 0):
        found.append(FieldError(path, "too-few"))
    return items


def _in_order(
    fields: list[Definition], raw: Mapping[str, Any], errors: dict[str, list[FieldError]]
) -> list[FieldError]:
    """Unknown keys first (in the order given), then each field's, in template order."""
    known = [f["name"] for f in fields]
    ordered = [e for name in raw if name not in known for e in errors.get(name, [])]
    return ordered + [e for name in known for e in errors.get(name, [])]


def validate(definition: Definition, values: Any) -> Result:
    """Normalise ``values`` and list every problem, in template order."""
    if not isinstance(values, Mapping):
        return Result({}, [FieldError("", "wrong-type")])
    errors: dict[str, list[FieldError]] = {}
    fields = list(definition["fields"])
    out = _walk(fields, values, "", None, errors)
    return Result(out, _in_order(fields, values, errors))
