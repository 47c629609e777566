"""Applications on a real database: timeline, audit, mail, webhooks, append-only log."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from tracker_helpers import NOW, MiniCity, add_event, make_booking

from app.core.context import AppContext
from app.core.outbox import OutboxMail
from app.tracker.audit import Actor
from app.tracker.models import AuditEntry, WebhookDelivery
from app.tracker.record_builder import RecordBuilder
from app.tracker.service import ApplicationError, ApplicationService, NewApplication
from app.tracker.status_mail import StatusMail
from app.tracker.workflow import IllegalTransition


def service(session: Session, ctx: AppContext) -> ApplicationService:
    return ApplicationService(session, StatusMail(session, ctx.links), NOW)


def test_open_from_a_session_move_through_the_workflow_and_audit(
    ctx: AppContext, city: MiniCity
) -> None:
    actor = Actor(city.staff_ids[0], "192.0.2.7")
    with ctx.sessions() as session:
        b = make_booking(session, city.consult_id, city.staff_ids[0], NOW - timedelta(hours=1))
        add_event(session, b.room_id, "join", NOW - timedelta(hours=1), "resident:x", "resident")
        record = RecordBuilder(session).sync_booking(b, NOW)
        svc = service(session, ctx)
        app = svc.open(
            NewApplication("転入届", "山田 太郎", city.dept_id, "taro@example.jp", "ja"),
            actor,
            record=record,
        )
        assert app.status == "received" and app.reference.startswith("A26-")
        assert svc.records(app) == [record]
        svc.change_status(app, "in_progress", actor)
        svc.change_status(app, "awaiting_documents", actor, "住民票の写しを送ってください")
        with pytest.raises(IllegalTransition):
            svc.change_status(app, "received", actor)
        svc.change_status(app, "in_progress", actor)
        svc.change_status(app, "completed", actor, "手続きが完了しました")
        with pytest.raises(IllegalTransition):
            svc.change_status(app, "withdrawn", actor)
        svc.assign(app, actor, staff_id=city.staff_ids[1], department_id=None)
        svc.set_due(app, date(2026, 12, 10), actor)
        session.commit()

        kinds = [(e.kind, e.from_status, e.to_status) for e in app.events]
        assert kinds == [
            ("opened", None, "received"),
            ("session-attached", None, None),
            ("status", "received", "in_progress"),
            ("status", "in_progress", "awaiting_documents"),
            ("status", "awaiting_documents", "in_progress"),
            ("status", "in_progress", "completed"),
            ("assigned", None, None),
            ("due", None, None),
        ]
        assert all(e.at == NOW and e.actor == f"staff:{actor.staff_id}" for e in app.events)
        audits = list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.object_type == "application", AuditEntry.object_id == str(app.id))
                .order_by(AuditEntry.id)
            )
        )
        status_audits = [a.detail for a in audits if a.detail.startswith("status")]
        assert status_audits == [
            "status received -> in_progress",
            "status in_progress -> awaiting_documents",
            "status awaiting_documents -> in_progress",
            "status in_progress -> completed",
        ]
        assert {(a.staff_id, a.ip, a.action) for a in audits} == {
            (actor.staff_id, "192.0.2.7", "change")
        }
        mails = list(session.scalars(select(OutboxMail).order_by(OutboxMail.id)))
        assert [m.kind for m in mails] == ["application-opened"] + ["application-status"] * 4
        assert "住民票の写しを送ってください" in mails[2].body and "/status/" in mails[2].body
        hooks = list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
        assert len(hooks) == 4 and '"to":"completed"' in hooks[-1].body


def test_a_session_belongs_to_one_application_and_bad_input_is_refused(
    ctx: AppContext, city: MiniCity
) -> None:
    actor = Actor(city.staff_ids[0])
    with ctx.sessions() as session:
        b = make_booking(session, city.consult_id, city.staff_ids[0], NOW - timedelta(hours=1))
        record = RecordBuilder(session).sync_booking(b, NOW)
        svc = service(session, ctx)
        first = svc.open(NewApplication("転入届", "山田", city.dept_id), actor, record=record)
        second = svc.open(NewApplication("児童手当", "山田", city.dept_id), actor)
        svc.attach(first, record, actor)  # attaching again is a no-op
        with pytest.raises(ApplicationError) as info:
            svc.attach(second, record, actor)
        assert info.value.field == "record_id"
        with pytest.raises(ApplicationError):
            svc.open(NewApplication(" ", "山田", city.dept_id), actor)
        with pytest.raises(ApplicationError):
            svc.open(NewApplication("転入届", "山田", 999_999), actor)
        # No e-mail address: nothing is queued, the status page link is given on paper.
        assert session.scalar(select(OutboxMail.id)) is None


def test_the_audit_log_is_append_only(committing_engine: Engine) -> None:
    with Session(committing_engine) as session:
        session.add(
            AuditEntry(at=NOW, staff_id=1, action="read", object_type="x", object_id="1", detail="")
        )
        session.commit()
    for statement in ("UPDATE audit_log SET detail = 'forged'", "DELETE FROM audit_log"):
        with Session(committing_engine) as session, pytest.raises(DBAPIError):
            session.execute(text(statement))
    with Session(committing_engine) as session:
        assert session.scalars(select(AuditEntry.detail)).all() == [""]
