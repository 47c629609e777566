"""Retention erases a form's personal data with its application's; rows and hashes stay."""

from __future__ import annotations

from datetime import datetime, timedelta

from forms_helpers import TENNYU, add_demo_templates, signature_png
from sqlalchemy import select
from tracker_helpers import NOW, MiniCity, make_booking

from app.core.context import AppContext
from app.forms import jobs as forms_jobs
from app.forms.models import Form, FormPush, FormSignature, FormVersion
from app.forms.service import Call, Forms
from app.tracker import jobs as tracker_jobs
from app.tracker.audit import Actor
from app.tracker.models import Application, ApplicationDocument, AuditEntry
from app.tracker.service import ApplicationService
from app.tracker.status_mail import StatusMail
from scheduler.models import FormTemplate


def _signed_form(ctx: AppContext, city: MiniCity, when: datetime) -> int:
    with ctx.sessions() as session:
        booking = make_booking(session, city.consult_id, city.staff_ids[0], when)
        apps = ApplicationService(session, StatusMail(session, ctx.links), when)
        forms = Forms(session, when, ctx.tz, apps)
        actor = Actor(city.staff_ids[0])
        form = forms.start(forms.template("tennyu-todoke"), Call(booking.room_id, booking), actor)
        forms.save(form, 1, TENNYU, actor)
        push = forms.push(form, 2, actor)
        for page in range(push.page_count):
            forms.confirm_page(form, push.view_hash, page)
        forms.sign(form, push.view_hash, signature_png(), "テスト市")
        session.commit()
        return form.id


def test_forms_are_erased_with_their_applications(ctx: AppContext, city: MiniCity) -> None:
    old = NOW - timedelta(days=400)
    with ctx.sessions() as session:
        add_demo_templates(session, city.consult_id)
        session.commit()
    filed = _signed_form(ctx, city, old)
    recent = _signed_form(ctx, city, NOW - timedelta(days=2))
    with ctx.sessions() as session:
        # The old application is finished; the recent one is still open.
        form = session.get(Form, filed)
        assert form is not None and form.application_id is not None
        application = session.get(Application, form.application_id)
        assert application is not None
        svc = ApplicationService(session, StatusMail(session, ctx.links), old)
        svc.change_status(application, "in_progress", Actor(city.staff_ids[0]))
        svc.change_status(application, "completed", Actor(city.staff_ids[0]))
        # A form started long ago and never filed.
        booking = make_booking(session, city.consult_id, city.staff_ids[1], old)
        forms = Forms(session, old, ctx.tz, svc)
        template = session.scalars(
            select(FormTemplate).where(FormTemplate.slug == "juminhyo-kofu")
        ).one()
        abandoned = forms.start(template, Call(booking.room_id, booking), Actor(None)).id
        session.commit()

    ctx.settings.retention_days = 365
    tracker_jobs.run_once(ctx)
    forms_jobs.run_once(ctx)

    with ctx.sessions() as session:
        erased = {f.id: f for f in session.scalars(select(Form))}
        assert erased[filed].erased_at == NOW and erased[filed].values == {}
        assert erased[filed].match_phone is None and erased[filed].state == "signed"
        assert erased[abandoned].erased_at == NOW and erased[abandoned].values == {}
        assert erased[recent].erased_at is None
        assert erased[recent].values["address"] == "みどり市本町1丁目2番3号"
        versions = session.scalars(select(FormVersion).where(FormVersion.form_id == filed)).all()
        assert versions and all(v.values == {} for v in versions)
        push = session.scalars(select(FormPush).where(FormPush.form_id == filed)).one()
        assert push.view == "" and len(push.view_hash) == 64  # the proof stays
        signatures = {s.form_id: s for s in session.scalars(select(FormSignature))}
        assert signatures[filed].image is None and signatures[recent].image is not None
        pdf = session.get(ApplicationDocument, signatures[filed].document_id)
        assert pdf is not None and pdf.data is None  # erased by the tracker's retention
        assert session.scalars(select(AuditEntry).where(AuditEntry.detail.like("%: 2 forms"))).one()
    # A second pass finds nothing more to do.
    forms_jobs.run_once(ctx)
    with ctx.sessions() as session:
        assert (
            len(session.scalars(select(AuditEntry).where(AuditEntry.detail.like("%forms"))).all())
            == 1
        )
