"""Applications: open, attach sessions, move through the workflow, talk to the resident.

Every change writes a timeline event, an audit entry and, where the resident
or another system should hear of it, an outbox mail or webhook, all in the
caller's transaction; the caller commits once.

A staff member's service carries their :class:`~app.auth.scope.StaffScope`:
it refuses (``Forbidden``) an application, a department or a session outside
it. The resident's service has none: their signed status link is the authority.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.scope import StaffScope
from app.core.context import AppContext
from app.tracker import webhooks
from app.tracker.audit import Actor, audit
from app.tracker.models import (
    Application,
    ApplicationDocument,
    ApplicationEvent,
    ApplicationSession,
    SessionRecord,
)
from app.tracker.status_mail import StatusMail
from app.tracker.workflow import ApplicationStatus, transition
from scheduler.models import Department, Staff

log = logging.getLogger(__name__)

PROCEDURE_MAX = 120
MESSAGE_MAX = 4000


class ApplicationError(ValueError):
    """Input an application cannot take; ``field`` names the form field."""

    code = "invalid-application"

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class NewApplication:
    procedure: str
    resident_name: str
    department_id: int
    resident_email: str | None = None
    locale: str = "ja"
    due_date: date | None = None
    notes: str = ""


def _reference(now: datetime) -> str:
    return f"A{now:%y}-{secrets.randbelow(10**7):07d}"


class ApplicationService:
    def __init__(
        self,
        session: Session,
        mail: StatusMail,
        now: datetime,
        scope: StaffScope | None = None,
    ) -> None:
        self.session = session
        self.mail = mail
        self.now = now
        self.scope = scope

    def _require(self, department_id: int | None) -> None:
        if self.scope is not None:
            self.scope.require_department(department_id)

    def get(self, application_id: int) -> Application | None:
        """The application, None if there is none; ``Forbidden`` outside the scope."""
        application = self.session.get(Application, application_id)
        if application is not None:
            self._require(application.department_id)
        return application

    def _event(
        self,
        application: Application,
        actor: Actor | None,
        kind: str,
        message: str = "",
        **extra: object,
    ) -> ApplicationEvent:
        event = ApplicationEvent(
            application_id=application.id,
            at=self.now,
            kind=kind,
            actor=actor.label if actor else "resident",
            staff_id=actor.staff_id if actor else None,
            message=message,
            from_status=extra.pop("from_status", None),
            to_status=extra.pop("to_status", None),
            detail=dict(extra),
        )
        self.session.add(event)
        application.updated_at = self.now
        return event

    def open(
        self, new: NewApplication, actor: Actor, *, record: SessionRecord | None = None
    ) -> Application:
        procedure = new.procedure.strip()
        name = new.resident_name.strip()
        if not procedure or len(procedure) > PROCEDURE_MAX:
            raise ApplicationError("Enter the procedure.", field="procedure")
        if not name:
            raise ApplicationError("Enter the resident's name.", field="resident_name")
        if self.session.get(Department, new.department_id) is None:
            raise ApplicationError("Choose a department.", field="department_id")
        self._require(new.department_id)
        reference = _reference(self.now)
        while self.session.scalar(select(Application.id).where(Application.reference == reference)):
            reference = _reference(self.now)
        application = Application(
            reference=reference,
            procedure=procedure,
            resident_name=name,
            resident_email=(new.resident_email or "").strip() or None,
            locale="en" if new.locale == "en" else "ja",
            status=ApplicationStatus.RECEIVED.value,
            department_id=new.department_id,
            due_date=new.due_date,
            notes=new.notes,
            pseudonymised=False,
            created_at=self.now,
            updated_at=self.now,
        )
        self.session.add(application)
        self.session.flush()
        self._event(application, actor, "opened", to_status=ApplicationStatus.RECEIVED.value)
        if record is not None:
            self.attach(application, record, actor)
        audit(self.session, actor, "change", "application", application.id, self.now, "opened")
        self.mail.opened(application)
        self.session.flush()
        log.info("application %s: opened by %s", application.id, actor.label)
        return application

    def attach(self, application: Application, record: SessionRecord, actor: Actor) -> None:
        self._require(application.department_id)
        # A session of another department's call is not this staff member's to file.
        self._require(record.department_id)
        existing = self.session.get(ApplicationSession, (application.id, record.id))
        if existing is not None:
            return
        taken = self.session.scalar(
            select(ApplicationSession.application_id).where(
                ApplicationSession.record_id == record.id
            )
        )
        if taken is not None:
            raise ApplicationError(
                "This session already belongs to another application.", field="record_id"
            )
        self.session.add(
            ApplicationSession(
                application_id=application.id, record_id=record.id, linked_at=self.now
            )
        )
        self._event(application, actor, "session-attached", record=record.id)
        audit(
            self.session,
            actor,
            "change",
            "application",
            application.id,
            self.now,
            f"attached record {record.id}",
        )
        self.session.flush()

    def records(self, application: Application) -> list[SessionRecord]:
        return list(
            self.session.scalars(
                select(SessionRecord)
                .join(ApplicationSession, ApplicationSession.record_id == SessionRecord.id)
                .where(ApplicationSession.application_id == application.id)
                .order_by(SessionRecord.started_at)
            )
        )

    def change_status(
        self, application: Application, target: str, actor: Actor, message: str = ""
    ) -> ApplicationEvent:
        self._require(application.department_id)
        if len(message) > MESSAGE_MAX:
            raise ApplicationError("The message is too long.", field="message")
        current = application.status_enum
        new = transition(current, target)  # raises IllegalTransition
        application.status = new.value
        event = self._event(
            application,
            actor,
            "status",
            message.strip(),
            from_status=current.value,
            to_status=new.value,
        )
        audit(
            self.session,
            actor,
            "change",
            "application",
            application.id,
            self.now,
            f"status {current} -> {new}",
        )
        webhooks.enqueue(
            self.session,
            "application.status_changed",
            {
                "id": application.id,
                "reference": application.reference,
                "from": current.value,
                "to": new.value,
                "department_id": application.department_id,
            },
            self.now,
        )
        self.mail.status_changed(application, message.strip())
        self.session.flush()
        log.info("application %s: %s -> %s by %s", application.id, current, new, actor.label)
        return event

    def assign(
        self,
        application: Application,
        actor: Actor,
        *,
        staff_id: int | None,
        department_id: int | None,
    ) -> None:
        # Handing one's own application to another department is allowed;
        # taking or moving another department's is not.
        self._require(application.department_id)
        if department_id is not None:
            if self.session.get(Department, department_id) is None:
                raise ApplicationError("Choose a department.", field="department_id")
            application.department_id = department_id
        if staff_id is not None and self.session.get(Staff, staff_id) is None:
            raise ApplicationError("Choose a staff member.", field="assignee_id")
        application.assignee_id = staff_id
        self._event(
            application, actor, "assigned", staff=staff_id, department=application.department_id
        )
        audit(
            self.session,
            actor,
            "change",
            "application",
            application.id,
            self.now,
            f"assigned staff={staff_id} department={application.department_id}",
        )
        self.session.flush()

    def set_due(self, application: Application, due: date | None, actor: Actor) -> None:
        self._require(application.department_id)
        application.due_date = due
        self._event(application, actor, "due", due=due.isoformat() if due else None)
        audit(self.session, actor, "change", "application", application.id, self.now, f"due {due}")
        self.session.flush()

    def request_document(
        self, application: Application, label: str, actor: Actor, message: str = ""
    ) -> ApplicationDocument:
        self._require(application.department_id)
        label = label.strip()
        if not label or len(label) > 200:
            raise ApplicationError("Name the document.", field="label")
        doc = ApplicationDocument(application_id=application.id, label=label, requested_at=self.now)
        self.session.add(doc)
        self.session.flush()
        self._event(
            application, actor, "document-requested", message.strip(), document=doc.id, label=label
        )
        self.mail.document_requested(application, label, message.strip())
        audit(
            self.session,
            actor,
            "change",
            "application",
            application.id,
            self.now,
            f"requested {doc.id}",
        )
        self.session.flush()
        return doc

    def file_document(
        self,
        application: Application,
        label: str,
        filename: str,
        content_type: str,
        data: bytes,
        actor: Actor | None,
        kind: str,
        **detail: object,
    ) -> ApplicationDocument:
        """A document that arrives already made (a signed form's PDF), with its timeline event.

        ``actor`` None is the resident (their signature filed it).
        """
        doc = ApplicationDocument(
            application_id=application.id,
            label=label[:200],
            requested_at=self.now,
            uploaded_at=self.now,
            filename=filename[-200:],
            content_type=content_type,
            size=len(data),
            data=data,
        )
        self.session.add(doc)
        self.session.flush()
        self._event(application, actor, kind, "", document=doc.id, label=doc.label, **detail)
        audit(
            self.session,
            actor or Actor(None),
            "change",
            "application",
            application.id,
            self.now,
            f"{kind}: document {doc.id}",
        )
        self.session.flush()
        return doc

    def note(
        self, application: Application, actor: Actor | None, kind: str, **detail: object
    ) -> ApplicationEvent:
        """A timeline event of something done elsewhere (a form signed, declined, voided)."""
        event = self._event(application, actor, kind, "", **detail)
        self.session.flush()
        return event

    def resident_reply(self, application: Application, text: str) -> ApplicationEvent:
        text = text.strip()
        if not text:
            raise ApplicationError("Write a message.", field="message")
        if len(text) > MESSAGE_MAX:
            raise ApplicationError("The message is too long.", field="message")
        event = self._event(application, None, "reply", text)
        self.session.flush()
        log.info("application %s: reply from the resident", application.id)
        return event

    def resident_upload(
        self,
        application: Application,
        doc: ApplicationDocument,
        filename: str,
        content_type: str,
        data: bytes,
    ) -> None:
        if doc.application_id != application.id:
            raise ApplicationError("Unknown document.", field="document")
        doc.filename = filename[-200:]
        doc.content_type = content_type
        doc.size = len(data)
        doc.data = data
        doc.uploaded_at = self.now
        doc.erased_at = None
        self._event(application, None, "document-uploaded", document=doc.id, label=doc.label)
        self.session.flush()
        log.info(
            "application %s: document %s uploaded (%d bytes)", application.id, doc.id, len(data)
        )


def application_service(session: Session, ctx: AppContext, scope: StaffScope) -> ApplicationService:
    """A staff member's service: everything it reads or changes is in ``scope``."""
    return ApplicationService(session, StatusMail(session, ctx.links), ctx.clock.now(), scope)
