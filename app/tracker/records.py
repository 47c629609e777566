"""Session records: one row per consultation, with one row per staff segment.

Rows are (re)built from ``call_events`` and the consultation record by
``RecordBuilder``; nothing here is typed in by hand except through those.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scheduler.models import Base


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
