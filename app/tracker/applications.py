"""Applications (申請) and their timeline, documents and audit trail."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.tracker.workflow import ApplicationStatus
from scheduler.models import Base, Department, Staff


class Application(Base):
    __tablename__ = "applications"
    __table_args__ = (
        Index("ix_applications_status_due", "status", "due_date"),
        Index("ix_applications_dept_created", "department_id", "created_at"),
        # Search by substring: trigram GIN indexes on PostgreSQL (pg_trgm);
        # SQLite searches with LIKE and gets plain indexes.
        *(
            Index(
                f"ix_applications_trgm_{col}",
                col,
                postgresql_using="gin",
                postgresql_ops={col: "gin_trgm_ops"},
            )
            for col in ("reference", "resident_name", "notes")
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    procedure: Mapped[str] = mapped_column(String(120))
    resident_name: Mapped[str] = mapped_column(String(100))
    resident_email: Mapped[str | None] = mapped_column(String(200), nullable=True)
    locale: Mapped[str] = mapped_column(String(5), default="ja")
    status: Mapped[str] = mapped_column(String(20), default=ApplicationStatus.RECEIVED)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id"), nullable=True, index=True
    )
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    # Set by the retention job: personal data above was erased on this date.
    pseudonymised: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    department: Mapped[Department] = relationship()
    assignee: Mapped[Staff | None] = relationship()
    events: Mapped[list[ApplicationEvent]] = relationship(
        back_populates="application", order_by="ApplicationEvent.id"
    )
    documents: Mapped[list[ApplicationDocument]] = relationship(
        back_populates="application", order_by="ApplicationDocument.id"
    )

    @property
    def status_enum(self) -> ApplicationStatus:
        return ApplicationStatus(self.status)


class ApplicationEvent(Base):
    """One entry of the timeline: a status change, message, reply or upload."""

    __tablename__ = "application_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(24))
    # staff:{id}, resident or system
    actor: Mapped[str] = mapped_column(String(40))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    from_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # Shown to the resident on the status page; internal notes stay empty here.
    message: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    application: Mapped[Application] = relationship(back_populates="events")


class ApplicationDocument(Base):
    """A document staff asked for, and the resident's upload once it arrives.

    The bytes live in the row so that erasing them (retention, a resident's
    request) is one UPDATE in the same transaction as everything else.
    """

    __tablename__ = "application_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime]
    uploaded_at: Mapped[datetime | None] = mapped_column(nullable=True)
    filename: Mapped[str | None] = mapped_column(String(200), nullable=True)
    content_type: Mapped[str | None] = mapped_column(String(60), nullable=True)
    size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    data: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    erased_at: Mapped[datetime | None] = mapped_column(nullable=True)
    application: Mapped[Application] = relationship(back_populates="documents")


class ApplicationSession(Base):
    """A session record linked to an application (a session belongs to one)."""

    __tablename__ = "application_sessions"

    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True
    )
    record_id: Mapped[int] = mapped_column(
        ForeignKey("session_records.id"), primary_key=True, unique=True
    )
    linked_at: Mapped[datetime]


class AuditEntry(Base):
    """Append-only: triggers refuse UPDATE and DELETE on both backends."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    # No foreign key: the trail must outlive the staff account it names.
    staff_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(20))  # read | change | export | erase
    object_type: Mapped[str] = mapped_column(String(30))
    object_id: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, default="")
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
