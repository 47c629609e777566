"""The audit trail of staff reads and changes (append-only table ``audit_log``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import Request
from sqlalchemy.orm import Session

from app.tracker.models import AuditEntry
from scheduler.models import Staff


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, and from where: the staff member and the client address."""

    staff_id: int | None
    ip: str | None = None

    @property
    def label(self) -> str:
        return f"staff:{self.staff_id}" if self.staff_id is not None else "system"


def audit(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object,
    now: datetime,
    detail: str = "",
) -> None:
    session.add(
        AuditEntry(
            at=now,
            staff_id=actor.staff_id,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            detail=detail,
            ip=actor.ip,
        )
    )


def actor_of(request: Request, staff: Staff) -> Actor:
    return Actor(staff.id, request.client.host if request.client else None)
