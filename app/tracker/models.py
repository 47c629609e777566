"""Tables of the tracker: session records, applications with their timeline,
documents, sessions and audit trail, and webhook deliveries."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base
from app.tracker.workflow import ApplicationStatus
from scheduler.models import Department, Staff


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


class RecordKind(StrEnum):
    BOOKING = "booking"
    WALK_IN = "walk-in"


class RecordChannel(StrEnum):
    HOME = "home"
    KIOSK = "kiosk"


class SessionRecord(Base):
    __tablename__ = "session_records"
    __table_args__ = (
        Index("ix_session_records_dept_start", "department_id", "started_at"),
        Index("ix_session_records_open", "closed", "started_at"),
        # The dashboard reads a date range of these columns only: on
        # PostgreSQL the index covers them, so the heap is not visited.
        Index(
            "ix_session_records_started_at",
            "started_at",
            postgresql_include=[
                "department_id",
                "kind",
                "channel",
                "branch_id",
                "no_show",
                "wait_seconds",
                "talk_seconds",
            ],
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    room: Mapped[str] = mapped_column(String(128), unique=True)
    booking_id: Mapped[int | None] = mapped_column(
        ForeignKey("bookings.id"), unique=True, nullable=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(10))
    kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosks.id"), nullable=True)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"), nullable=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    # When the consultation was due (the slot) or first heard of (a walk-in).
    started_at: Mapped[datetime]
    queued_at: Mapped[datetime | None] = mapped_column(nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(nullable=True)
    connected_at: Mapped[datetime | None] = mapped_column(nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    wait_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    talk_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    no_show: Mapped[bool] = mapped_column(Boolean, default=False)
    reconstructed: Mapped[bool] = mapped_column(Boolean, default=False)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime]
    segments: Mapped[list[SessionSegment]] = relationship(
        back_populates="record",
        cascade="all, delete-orphan",
        order_by="SessionSegment.seq",
    )


class SessionSegment(Base):
    __tablename__ = "session_segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(
        ForeignKey("session_records.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    participant: Mapped[str] = mapped_column(String(128))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    joined_at: Mapped[datetime]
    left_at: Mapped[datetime | None] = mapped_column(nullable=True)
    record: Mapped[SessionRecord] = relationship(back_populates="segments")


class WebhookDelivery(Base):
    __tablename__ = "webhook_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivered_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(300), nullable=True)


class RatingSource(StrEnum):
    KIOSK = "kiosk"  # on the kiosk screen after the call
    HOME = "home"  # on the ended page of the call at home
    LINK = "link"  # from the link sent by mail or LINE afterwards


class CallRating(Base):
    """The resident's 1–5 rating of one call, at most one per session record."""

    __tablename__ = "call_ratings"
    __table_args__ = (CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(
        ForeignKey("session_records.id", ondelete="CASCADE"), unique=True
    )
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(10))
    rated_at: Mapped[datetime]
