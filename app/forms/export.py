"""A form's structured data as it leaves madoguchi: the applications API and CSV export.

The city's core systems import what a resident signed: each application's
forms whose signature is valid, with their normalised values (docs/forms.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.forms.models import Form, FormPush, FormSignature

# Ids per query: an export of every application stays under SQLite's variable limit.
CHUNK = 500


def forms_of(session: Session, application_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Every form of each application: id, template, state, version, signed_at, values."""
    out: dict[int, list[dict[str, Any]]] = {}
    for start in range(0, len(application_ids), CHUNK):
        _forms_of(session, application_ids[start : start + CHUNK], out)
    return out


def _forms_of(
    session: Session, application_ids: Sequence[int], out: dict[int, list[dict[str, Any]]]
) -> None:
    signed = {
        s.form_id: s.signed_at
        for s in session.scalars(
            select(FormSignature)
            .join(Form, Form.id == FormSignature.form_id)
            .where(Form.application_id.in_(application_ids), FormSignature.voided_at.is_(None))
        )
    }
    forms = session.scalars(
        select(Form).where(Form.application_id.in_(application_ids)).order_by(Form.id)
    )
    for form in forms:
        assert form.application_id is not None
        at = signed.get(form.id)
        out.setdefault(form.application_id, []).append(
            {
                "id": form.id,
                "template": form.definition["slug"],
                "title_ja": form.definition["title_ja"],
                "state": form.state,
                "version": form.version,
                "signed_at": at.isoformat() if at is not None else None,
                "values": form.values,
            }
        )


def csv_column(session: Session, application_ids: Sequence[int]) -> dict[int, str]:
    """The CSV's forms cell of each application: JSON of its signed forms."""
    return {
        app_id: json.dumps(
            [
                {k: f[k] for k in ("template", "version", "signed_at", "values")}
                for f in forms
                if f["signed_at"] is not None
            ],
            ensure_ascii=False,
            separators=(",", ":"),
        )
        for app_id, forms in forms_of(session, application_ids).items()
    }


def signed_views(session: Session, application_id: int) -> list[dict[str, Any]]:
    """The application's validly signed forms as the resident saw and signed them
    (the resident's status page): form id, titles, time, hash and the view."""
    rows = session.execute(
        select(Form, FormSignature, FormPush)
        .join(FormSignature, FormSignature.form_id == Form.id)
        .join(FormPush, FormPush.id == FormSignature.push_id)
        .where(Form.application_id == application_id, FormSignature.voided_at.is_(None))
        .order_by(Form.id)
    )
    return [
        {
            "form_id": form.id,
            "title_ja": str(form.definition["title_ja"]),
            "title_en": str(form.definition["title_en"]),
            "signed_at": signature.signed_at,
            "view_hash": signature.view_hash,
            "view": json.loads(push.view) if push.view else {},
        }
        for form, signature, push in rows
    ]
