"""Optimistic versions: two saves of one version, the second refused by the database itself."""

from __future__ import annotations

from datetime import timedelta

import pytest
from forms_helpers import TENNYU, add_demo_templates
from sqlalchemy import select
from sqlalchemy.orm import Session
from tracker_helpers import NOW, MiniCity, make_booking

from app.core.context import AppContext
from app.forms.models import Form, FormVersion
from app.forms.service import Call, FormError, Forms
from app.tracker.audit import Actor
from app.tracker.service import ApplicationService
from app.tracker.status_mail import StatusMail


def forms_in(session: Session, ctx: AppContext) -> Forms:
    return Forms(
        session, NOW, ctx.tz, ApplicationService(session, StatusMail(session, ctx.links), NOW)
    )


def test_a_save_racing_another_loses_without_overwriting(ctx: AppContext, city: MiniCity) -> None:
    actor = Actor(city.staff_ids[0])
    with ctx.sessions() as session:
        add_demo_templates(session, city.consult_id)
        booking = make_booking(
            session, city.consult_id, city.staff_ids[0], NOW - timedelta(minutes=5)
        )
        forms = forms_in(session, ctx)
        form_id = forms.start(
            forms.template("tennyu-todoke"), Call(booking.room_id, booking), actor
        ).id
        session.commit()
    # Both staff pages read version 1; the first save commits, the second was
    # checked against the version it read (1) and must not overwrite version 2.
    first = Session(ctx.engine, expire_on_commit=False)
    second = Session(ctx.engine, expire_on_commit=False)
    try:
        form_a = first.get(Form, form_id)
        form_b = second.get(Form, form_id)
        assert form_a is not None and form_b is not None
        # Keep what the second page read (version 1) and end its reading transaction.
        second.expunge(form_b)
        second.rollback()
        forms_in(first, ctx).save(form_a, 1, TENNYU, actor)
        first.commit()
        second.add(form_b)
        with pytest.raises(FormError) as caught:
            forms_in(second, ctx).save(form_b, 1, {**TENNYU, "householder": "別人"}, actor)
        assert caught.value.code == "version-conflict"
        second.rollback()
    finally:
        first.close()
        second.close()
    with ctx.sessions() as session:
        form = session.get(Form, form_id)
        assert form is not None and form.version == 2
        assert form.values["householder"] == "山田 太郎"
        assert [
            v.version for v in session.scalars(select(FormVersion).order_by(FormVersion.version))
        ] == [1, 2]
