"""Tables of the remote counter: walk-in tickets, hand-over requests (a call
handed to a department or a named colleague), staff presence, and the rings
(offers) of both.

Several app processes share the queue through these rows. Partial unique
indexes on ``ring_offers`` make the database itself refuse a second ringing
offer for one ticket, one request or one staff member, whatever a buggy or
racing process tries.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class TicketStatus(StrEnum):
    WAITING = "waiting"  # in the queue (possibly ringing at someone)
    IN_CALL = "in-call"  # a staff member accepted it
    DONE = "done"
    LEFT = "left"  # the resident left the queue


class OfferResult(StrEnum):
    RINGING = "ringing"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    LAPSED = "lapsed"


class QueueTicket(Base):
    __tablename__ = "queue_tickets"
    __table_args__ = (UniqueConstraint("day", "number", name="uq_queue_tickets_day_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # 受付番号: counts from 1 each day (city date), shown large on the kiosk.
    day: Mapped[date] = mapped_column(Date)
    number: Mapped[int] = mapped_column(Integer)
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"), nullable=True)
    priority: Mapped[int] = mapped_column(Integer)
    room_id: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(12), index=True)
    queued_at: Mapped[datetime]
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    accepted_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    # Staff ids who declined or let it ring out, in order.
    refused_by: Mapped[list[int]] = mapped_column(JSON, default=list)
    refused_at: Mapped[datetime | None]  # the latest refusal
    # The interpreter language the resident asked for at the kiosk
    # (``InterpreterLanguage.code``); accepting the call calls one.
    interpreter_language: Mapped[str | None] = mapped_column(String(20), nullable=True)


class StaffPresence(Base):
    __tablename__ = "staff_presence"

    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(10))
    # When the staff member last became free: fair routing's "longest idle".
    idle_since: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The console's (or call page's) latest poll: a closed browser counts as
    # offline for routing after ``presence_timeout_seconds``.
    seen_at: Mapped[datetime | None]
    # What they were before the timeout set them offline; reopening the
    # console restores it (an offline chosen by hand stays offline).
    resume_status: Mapped[str | None] = mapped_column(String(10), nullable=True)


class HandoverKind(StrEnum):
    HANDOVER = "handover"  # the colleague takes over the call
    INVITE = "invite"  # the colleague joins as an observer


class HandoverStatus(StrEnum):
    WAITING = "waiting"  # ringing or waiting for a free colleague
    ACCEPTED = "accepted"
    DECLINED = "declined"  # the named colleague said no
    CANCELLED = "cancelled"  # the call ended before anyone took it


class HandoverRequest(Base):
    """A call in progress handed to a department (routed like a walk-in, to
    that department's qualified staff) or to one named colleague."""

    __tablename__ = "handover_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[str] = mapped_column(String(128), index=True)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"), nullable=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("queue_tickets.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(10))
    mode: Mapped[str] = mapped_column(String(4))  # warm / cold
    from_staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), nullable=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"), nullable=True)
    target_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    # The notes so far, shown with the ring.
    context: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), index=True)
    queued_at: Mapped[datetime]
    refused_by: Mapped[list[int]] = mapped_column(JSON, default=list)
    refused_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    accepted_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    accepted_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]


class RingKind(StrEnum):
    """What a ring is about: the one thing that differs between rings."""

    TICKET = "ticket"  # a walk-in (or booked kiosk visit) waiting in the queue
    HANDOVER = "handover"  # a hand-over or invitation from a colleague in a call


RINGING = text("result = 'ringing'")


class RingOffer(Base):
    """One ring of a waiting ticket or hand-over request at one staff member.

    One routing round plans the rings of both kinds together, so nobody is
    rung for a walk-in and a hand-over at once; the partial unique indexes
    refuse a second ringing offer per ticket, per request or per person.
    """

    __tablename__ = "ring_offers"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'ticket' AND ticket_id IS NOT NULL AND request_id IS NULL)"
            " OR (kind = 'handover' AND request_id IS NOT NULL AND ticket_id IS NULL)",
            name="one_subject",
        ),
        Index(
            "uq_ring_offers_ringing_ticket",
            "ticket_id",
            unique=True,
            sqlite_where=RINGING,
            postgresql_where=RINGING,
        ),
        Index(
            "uq_ring_offers_ringing_request",
            "request_id",
            unique=True,
            sqlite_where=RINGING,
            postgresql_where=RINGING,
        ),
        Index(
            "uq_ring_offers_ringing_staff",
            "staff_id",
            unique=True,
            sqlite_where=RINGING,
            postgresql_where=RINGING,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("queue_tickets.id", ondelete="CASCADE"), nullable=True
    )
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("handover_requests.id", ondelete="CASCADE"), nullable=True
    )
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    offered_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    result: Mapped[str] = mapped_column(String(10))
    answered_at: Mapped[datetime | None]

    @property
    def subject_id(self) -> int:
        """The ticket's or the request's id."""
        subject = self.ticket_id if self.kind == RingKind.TICKET else self.request_id
        assert subject is not None
        return subject


class InterpreterCall(Base):
    """An interpreter called on demand into a call room, until released.

    The partial unique indexes are the guard against two calls (from any app
    process) taking one interpreter at once, and against two on-demand
    interpreters in one room (a room has one interpreter seat): a second
    active row fails to insert, and the caller tries the next interpreter.
    """

    __tablename__ = "interpreter_calls"
    __table_args__ = (
        Index(
            "uq_interpreter_calls_active_interpreter",
            "interpreter_id",
            unique=True,
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
        Index(
            "uq_interpreter_calls_active_room",
            "room_id",
            unique=True,
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    interpreter_id: Mapped[int] = mapped_column(
        ForeignKey("interpreters.id", ondelete="CASCADE"), index=True
    )
    language: Mapped[str] = mapped_column(String(20))
    room_id: Mapped[str] = mapped_column(String(40))
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("queue_tickets.id", ondelete="CASCADE"), nullable=True
    )
    booking_id: Mapped[int | None] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), nullable=True
    )
    called_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), nullable=True
    )
    # The participant id in the interpreter's join token.
    participant: Mapped[str] = mapped_column(String(60))
    called_at: Mapped[datetime]
    released_at: Mapped[datetime | None]
    release_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)
