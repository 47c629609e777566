"""Tables of the calls domain: call events, consultation records, documents."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base
from scheduler.models import Booking, Department, Staff


class CallEventRow(Base):
    __tablename__ = "call_events"
    __table_args__ = (Index("ix_call_events_room_at", "room", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    room: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    participant: Mapped[str | None] = mapped_column(String(128))
    role: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime]  # UTC (Base maps datetime to UTCDateTime)
    node: Mapped[str] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Outcome(StrEnum):
    COMPLETED = "completed"
    FOLLOW_UP_NEEDED = "follow-up-needed"
    NO_SHOW = "no-show"
    REFERRED = "referred"  # to another department, named by referred_department_id


class Consultation(Base):
    """The wrap-up of one call: the staff's notes and the outcome.

    One row per call (room), shared by its hand-over segments: whoever wraps
    up last sets the outcome (``staff_id``)."""

    __tablename__ = "consultations"
    __table_args__ = (
        # A referral always names its department, and only a referral does.
        CheckConstraint(
            "(outcome = 'referred') = (referred_department_id IS NOT NULL)",
            name="referral_department",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The call's room: every call has one, booked or walk-in (app/counter/tickets.py).
    room: Mapped[str] = mapped_column(String(128), unique=True)
    # Only a booked call has a booking.
    booking_id: Mapped[int | None] = mapped_column(
        ForeignKey("bookings.id"), unique=True, nullable=True
    )
    # Who wrote last: the record follows the call, not the original allocation.
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    referred_department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id"), nullable=True
    )
    updated_at: Mapped[datetime]
    booking: Mapped[Booking | None] = relationship()
    staff: Mapped[Staff] = relationship()
    referred_department: Mapped[Department | None] = relationship()


class DocumentKind(StrEnum):
    PHOTO = "photo"  # staff took it from the resident's camera, with consent
    PUSHED = "pushed"  # staff showed it on the resident's or kiosk's screen


class CallDocument(Base):
    __tablename__ = "call_documents"
    __table_args__ = (Index("ix_call_documents_delete_after", "delete_after"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(256))
    content_type: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime]
    delete_after: Mapped[datetime]
