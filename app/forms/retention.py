"""Forms under the retention period (``MADOGUCHI_RETENTION_DAYS``), after the tracker's.

A form's personal data goes with its application's: once the tracker has
pseudonymised the application (finished and older than the period), the
form's values, saved versions, pushed views and signature images are erased.
A form never filed (declined, abandoned) goes once it is older than the
period. The rows stay with their times, states and view hashes, so counts
and the proof that something was signed remain; ``forms.erased_at`` says when.
The signed PDF is an application document: the tracker's retention erases it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from app.forms.models import Form, FormPush, FormSignature, FormVersion
from app.tracker.audit import Actor, audit
from app.tracker.models import Application

log = logging.getLogger(__name__)


def erase_forms(session: Session, now: datetime, days: int) -> int:
    """Erase what is due; returns how many forms. The caller commits. ``days`` 0 does nothing."""
    if days <= 0:
        return 0
    cutoff = now - timedelta(days=days)
    filed_and_erased = select(Application.id).where(Application.pseudonymised.is_(True))
    ids = list(
        session.scalars(
            select(Form.id).where(
                Form.erased_at.is_(None),
                or_(
                    Form.application_id.in_(filed_and_erased),
                    and_(Form.application_id.is_(None), Form.updated_at < cutoff),
                ),
            )
        )
    )
    if not ids:
        return 0
    session.execute(
        update(Form)
        .where(Form.id.in_(ids))
        .values(values={}, match_phone=None, match_email=None, erased_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(update(FormVersion).where(FormVersion.form_id.in_(ids)).values(values={}))
    session.execute(update(FormPush).where(FormPush.form_id.in_(ids)).values(view=""))
    session.execute(update(FormSignature).where(FormSignature.form_id.in_(ids)).values(image=None))
    summary = f"retention before {cutoff.isoformat()}: {len(ids)} forms"
    audit(session, Actor(None), "erase", "retention", "-", now, summary)
    log.info("%s", summary)
    session.flush()
    return len(ids)
