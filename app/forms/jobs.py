"""The forms' share of each background pass: the retention period."""

from __future__ import annotations

from app.core.context import AppContext
from app.forms.retention import erase_forms


def run_once(ctx: AppContext) -> None:
    days = ctx.settings.retention_days
    if days:
        with ctx.writer_sessions() as session:
            erase_forms(session, ctx.clock.now(), days)
            session.commit()
