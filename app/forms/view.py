"""The rendered view of a form: what the resident reads, page by page (pure).

The view is built from the definition and the normalised values alone, so
the same form always renders the same view; its canonical JSON (sorted keys,
no whitespace, UTF-8) is hashed with SHA-256 and that hash is what a
signature is made over. The PDF prints the rows of the signed view. Format:
docs/forms.md, section 4.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from app.forms.validation import condition_holds
from app.forms.wareki import format_wareki

__all__ = ["VIEW_FORMAT", "build_view", "canonical_json", "display_text", "view_hash"]

VIEW_FORMAT = "madoguchi-form-view/1"

Definition = Mapping[str, Any]


def display_text(spec: Definition, value: Any) -> str:
    """How one normalised value reads on the form."""
    kind = spec["type"]
    if kind == "checkbox":
        return "はい" if value is True else "いいえ"
    if not isinstance(value, str) or value == "":
        return ""
    if kind == "date":
        day = date.fromisoformat(value)
        return f"{format_wareki(day)}（{day.year}年{day.month}月{day.day}日）"
    if kind == "postal_code":
        return f"〒{value}"
    if kind == "choice":
        for option in spec["options"]:
            if option["value"] == value:
                return str(option["label_ja"])
    return value


def _row(spec: Definition, value: Any) -> dict[str, Any]:
    return {
        "name": spec["name"],
        "label_ja": spec["label_ja"],
        "label_en": spec["label_en"],
        "text": display_text(spec, value),
    }


def _rows(
    fields: list[Definition], names: list[str], values: Mapping[str, Any]
) -> list[dict[str, Any]]:
    by_name = {f["name"]: f for f in fields}
    rows: list[dict[str, Any]] = []
    for name in names:
        spec = by_name[name]
        if name not in values:
            continue  # hidden by its condition
        if spec["type"] != "group":
            rows.append(_row(spec, values[name]))
            continue
        items = []
        for item in values[name]:
            items.append(
                [
                    _row(sub, item[sub["name"]])
                    for sub in spec["fields"]
                    if sub["name"] in item and condition_holds(sub.get("shown_if"), item, values)
                ]
            )
        rows.append(
            {
                "name": name,
                "label_ja": spec["label_ja"],
                "label_en": spec["label_en"],
                "items": items,
            }
        )
    return rows


def build_view(
    definition: Definition,
    values: Mapping[str, Any],
    *,
    form_id: int,
    version: int,
    template_version: int,
) -> dict[str, Any]:
    """The view of ``values`` (normalised by ``validate``) laid out as the template says."""
    fields = list(definition["fields"])
    pages = []
    for number, page in enumerate(definition["layout"]["pages"], start=1):
        pages.append(
            {
                "number": number,
                "title_ja": page["title_ja"],
                "title_en": page["title_en"],
                "sections": [
                    {
                        "title_ja": section["title_ja"],
                        "title_en": section["title_en"],
                        "rows": _rows(fields, list(section["fields"]), values),
                    }
                    for section in page["sections"]
                ],
            }
        )
    return {
        "format": VIEW_FORMAT,
        "form": {
            "id": form_id,
            "version": version,
            "template": definition["slug"],
            "template_version": template_version,
            "title_ja": definition["title_ja"],
            "title_en": definition["title_en"],
        },
        "pages": pages,
    }


def canonical_json(view: Mapping[str, Any]) -> str:
    """Keys sorted at every level, no whitespace, non-ASCII kept: the bytes that are hashed."""
    return json.dumps(view, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def view_hash(canonical: str) -> str:
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
