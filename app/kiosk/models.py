"""Tables of kiosk devices: pairing codes, device credentials, failed pairings, heartbeats."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class KioskPairing(Base):
    __tablename__ = "kiosk_pairings"
    id: Mapped[int] = mapped_column(primary_key=True)
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), nullable=True
    )


class KioskCredential(Base):
    __tablename__ = "kiosk_credentials"
    id: Mapped[int] = mapped_column(primary_key=True)
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class KioskPairFailure(Base):
    """One wrong pairing code from one client address (for the attempt limit)."""

    __tablename__ = "kiosk_pair_failures"
    id: Mapped[int] = mapped_column(primary_key=True)
    client: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(index=True)


class KioskHeartbeat(Base):
    """The latest heartbeat of each kiosk: when, and its device checks."""

    __tablename__ = "kiosk_heartbeats"
    kiosk_id: Mapped[int] = mapped_column(
        ForeignKey("kiosks.id", ondelete="CASCADE"), primary_key=True
    )
    at: Mapped[datetime]
    camera: Mapped[str] = mapped_column(String(12))
    microphone: Mapped[str] = mapped_column(String(12))
    network: Mapped[str] = mapped_column(String(12))
    rtt_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    in_call: Mapped[bool] = mapped_column(Boolean, default=False)
