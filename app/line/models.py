"""The LINE domain's tables: links to a resident's bookings, queued webhook events, link checks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base

# LINE user ids are "U" + 32 hex digits; room for other sources' ids.
USER_ID_LENGTH = 64


class LinkVia(StrEnum):
    CODE = "code"  # the bot asked for a booking code and a check answer
    LOGIN = "login"  # booked inside LINE with a verified LINE Login ID token


class LineLink(Base):
    """One LINE user follows one booking, application or waiting-list entry.

    Inactive after an unfollow (which LINE also sends when the user blocks the
    account), a 「通知を停止」 postback, or a push LINE refuses for the user.
    """

    __tablename__ = "line_links"
    __table_args__ = (
        Index("uq_line_links_booking", "line_user_id", "booking_id", unique=True),
        Index("uq_line_links_application", "line_user_id", "application_id", unique=True),
        Index("uq_line_links_waitlist", "line_user_id", "waitlist_entry_id", unique=True),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    line_user_id: Mapped[str] = mapped_column(String(USER_ID_LENGTH), index=True)
    booking_id: Mapped[int | None] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), nullable=True, index=True
    )
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), nullable=True, index=True
    )
    waitlist_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("waitlist.id", ondelete="CASCADE"), nullable=True, index=True
    )
    via: Mapped[str] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    linked_at: Mapped[datetime]
    deactivated_at: Mapped[datetime | None] = mapped_column(nullable=True)


class EventStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class LineEvent(Base):
    """A verified webhook event, queued for the jobs loop; its id makes redelivery a no-op."""

    __tablename__ = "line_events"
    __table_args__ = (Index("ix_line_events_due", "status", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_event_id: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(20))
    line_user_id: Mapped[str | None] = mapped_column(String(USER_ID_LENGTH), nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10), default=EventStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class LinkCheck(Base):
    """A user who sent a code and owes the check answer (phone or e-mail given at booking).

    Kept whether or not the code exists, so the bot's next question gives no
    hint; ``booking_id``/``application_id`` are empty for an unknown code.
    """

    __tablename__ = "line_link_checks"
    line_user_id: Mapped[str] = mapped_column(String(USER_ID_LENGTH), primary_key=True)
    booking_id: Mapped[int | None] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), nullable=True
    )
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), nullable=True
    )
    locale: Mapped[str] = mapped_column(String(5), default="ja")
    expires_at: Mapped[datetime]
