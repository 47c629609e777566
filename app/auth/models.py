"""Tables of staff authentication: the server-side record of each login session."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class StaffSession(Base):
    """One login: the signed cookie carries a random id, this row makes it count.

    Only the id's SHA-256 digest is stored, so a copy of the database cannot be
    turned into a working cookie. Deleting the row (logout, a password change,
    an administrator's "sign out everywhere") ends the session at once.
    """

    __tablename__ = "staff_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
