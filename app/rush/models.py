"""The rush domain's tables: one queue per rush service and its numbered tickets.

The queue's state is two counters on one row: ``issued`` (the last number
given) and ``admitted`` (every number up to it may book). Taking a number is
one ``UPDATE … SET issued = issued + 1 … RETURNING`` (the row lock makes the
numbers a strict arrival order across app processes); admitting is moving
``admitted`` forward, so admission order is number order by construction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class RushQueue(Base):
    __tablename__ = "rush_queues"
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    issued: Mapped[int] = mapped_column(BigInteger, default=0)
    admitted: Mapped[int] = mapped_column(BigInteger, default=0)
    # The admission clock: ``admitted`` was last moved forward for this instant,
    # so the next step is due ``1 / rate`` seconds after it.
    admitted_until: Mapped[datetime]
    # The last look for a free slot in the service's horizon, and since when
    # there was none (None: not full).
    checked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    full_since: Mapped[datetime | None] = mapped_column(nullable=True)
    # The measured admission pace: ``admitted`` was ``paced_from`` at
    # ``paced_since`` (the current measuring window, restarted every minute and
    # whenever the queue runs empty), and ``pace`` is admissions per second
    # over the last full window (None: none measured since the queue filled).
    paced_since: Mapped[datetime | None] = mapped_column(nullable=True)
    paced_from: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    pace: Mapped[float | None] = mapped_column(nullable=True)


class RushTicket(Base):
    """One resident's place: its number, when it was admitted and what it booked."""

    __tablename__ = "rush_tickets"
    __table_args__ = (
        Index("uq_rush_tickets_number", "service_id", "number", unique=True),
        Index("ix_rush_tickets_active", "service_id", "admitted_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[datetime]
    admitted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # Set in the booking's own transaction: one admission books once.
    booking_id: Mapped[int | None] = mapped_column(
        ForeignKey("bookings.id", ondelete="SET NULL"), nullable=True, unique=True
    )
