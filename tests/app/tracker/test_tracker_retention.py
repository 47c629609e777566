"""The retention job: old personal data goes, statistics and open cases stay."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from tracker_helpers import NOW, SECRET, MiniCity, add_event, make_booking

from app.calls.consultations import Consultations
from app.core.context import AppContext
from app.tracker import jobs as tracker_jobs
from app.tracker.audit import Actor
from app.tracker.models import Application, ApplicationDocument, AuditEntry, SessionRecord
from app.tracker.record_builder import RecordBuilder
from app.tracker.retention import ERASED, apply_retention, pseudonym
from app.tracker.service import ApplicationService, NewApplication
from app.tracker.status_mail import StatusMail
from scheduler.models import Booking, Staff


def test_old_personal_data_is_erased_and_reported(ctx: AppContext, city: MiniCity) -> None:
    old = NOW - timedelta(days=400)
    actor = Actor(city.staff_ids[0])
    with ctx.sessions() as session:
        staff = session.get(Staff, city.staff_ids[0])
        assert staff is not None
        b_old = make_booking(session, city.consult_id, staff.id, old)
        b_new = make_booking(session, city.consult_id, staff.id, NOW - timedelta(days=3))
        for b in (b_old, b_new):
            add_event(session, b.room_id, "join", b.start_at, "resident:x", "resident")
            add_event(session, b.room_id, "call-end", b.end_at, f"staff:{staff.id}", "staff")
            Consultations(session).save_notes(b, staff, "持病あり", b.end_at)
        builder = RecordBuilder(session)
        r_old = builder.sync_booking(b_old, old + timedelta(hours=1))
        r_new = builder.sync_booking(b_new, NOW)
        old_svc = ApplicationService(session, StatusMail(session, ctx.links), old)
        done = old_svc.open(
            NewApplication("転入届", "山田 太郎", city.dept_id, "t@example.jp", notes="メモ"), actor
        )
        open_case = old_svc.open(NewApplication("児童手当", "佐藤 花子", city.dept_id), actor)
        old_svc.change_status(done, "in_progress", actor, "書類をお願いします")
        doc = old_svc.request_document(done, "住民票", actor)
        old_svc.resident_upload(done, doc, "j.pdf", "application/pdf", b"%PDF-1.4 x")
        old_svc.change_status(done, "completed", actor)
        session.commit()
        ids = (r_old.id, r_new.id, done.id, open_case.id, doc.id, b_old.id, b_new.id)

    ctx.settings.retention_days = 365
    tracker_jobs.run_once(ctx)
    with ctx.sessions() as session:
        r_old, r_new = (session.get(SessionRecord, i) for i in ids[:2])
        assert r_old is not None and r_new is not None
        assert r_old.notes == "" and r_new.notes == "持病あり"
        assert r_old.ended_at is not None and r_old.department_id == city.dept_id
        done = session.get(Application, ids[2])
        open_case = session.get(Application, ids[3])
        assert done is not None and open_case is not None
        assert done.resident_name == pseudonym(SECRET, "山田 太郎") and done.pseudonymised
        assert done.resident_email is None and done.notes == ""
        assert all(e.message == "" for e in done.events)
        assert [e.kind for e in done.events][-1] == "status" and done.status == "completed"
        assert open_case.resident_name == "佐藤 花子" and not open_case.pseudonymised
        document = session.get(ApplicationDocument, ids[4])
        assert document is not None and document.data is None and document.erased_at == NOW
        b_old, b_new = (session.get(Booking, i) for i in ids[5:])
        assert b_old is not None and b_new is not None
        assert b_old.resident_name == ERASED and b_old.resident_email is None
        assert b_new.resident_name == "山田 太郎"
        report = session.scalars(select(AuditEntry).where(AuditEntry.action == "erase")).one()
        assert report.detail.endswith("1 records, 1 bookings, 1 applications, 1 documents")
    # A second pass finds nothing more to do.
    with ctx.sessions() as session:
        again = apply_retention(session, NOW, 365, SECRET)
        assert again.total == 0
