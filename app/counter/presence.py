"""Staff presence: available, in a call, away or offline, and since when.

The rules that change a row live here; running a routing round after a change
is the caller's (``app.counter.desk``, ``app.counter.rounds``). A console that
stopped polling for ``presence_timeout_seconds`` counts as offline, and comes
back as it was when it polls again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.counter.models import StaffPresence
from app.counter.settings import CounterSettings
from scheduler.models import Staff
from scheduler.routing import Presence, StaffMember, timed_out

log = logging.getLogger(__name__)


class PresenceBook:
    def __init__(self, session: Session, settings: CounterSettings) -> None:
        self.session = session
        self.settings = settings

    def of(self, staff_id: int) -> Presence:
        row = self.session.get(StaffPresence, staff_id)
        return Presence(row.status) if row else Presence.OFFLINE

    def set(self, staff_id: int, status: Presence, now: datetime) -> None:
        row = self.session.get(StaffPresence, staff_id)
        if row is None:
            row = StaffPresence(
                staff_id=staff_id, status=status, idle_since=now, updated_at=now, seen_at=now
            )
            self.session.add(row)
        elif row.status != status:
            if status is Presence.AVAILABLE:
                row.idle_since = now
            row.status = status
            row.updated_at = now
        self.session.flush()

    def choose(self, staff_id: int, status: Presence, now: datetime) -> None:
        """Chosen by hand: a later timeout restores nothing older than this."""
        self.set(staff_id, status, now)
        row = self.session.get(StaffPresence, staff_id)
        assert row is not None
        row.resume_status = None
        row.seen_at = now
        log.info("staff %s is %s", staff_id, status.value)

    def seen(self, staff_id: int, now: datetime) -> None:
        """The console or the call page polled: the staff member is at their
        desk. Someone the timeout set offline is back as they were."""
        row = self.session.get(StaffPresence, staff_id)
        if row is None:
            return
        row.seen_at = now
        if row.status == Presence.OFFLINE and row.resume_status is not None:
            back = Presence(row.resume_status)
            row.resume_status = None
            self.set(staff_id, back, now)
            log.info("staff %s is back (%s)", staff_id, back.value)
        self.session.flush()

    def release(self, staff_id: int, now: datetime) -> None:
        """A staff member whose call ended (or who handed it over) is free again;
        one the timeout set offline comes back available, not in a call."""
        row = self.session.get(StaffPresence, staff_id)
        if row is None:
            return
        if row.status == Presence.IN_CALL:
            self.set(staff_id, Presence.AVAILABLE, now)
        elif row.status == Presence.OFFLINE and row.resume_status == Presence.IN_CALL:
            row.resume_status = Presence.AVAILABLE

    def expire(self, now: datetime) -> None:
        """Staff whose console stopped polling are offline for routing."""
        timeout = timedelta(seconds=self.settings.presence_timeout_seconds)
        rows = self.session.scalars(
            select(StaffPresence).where(StaffPresence.status != Presence.OFFLINE)
        )
        for row in rows:
            if timed_out(row.seen_at, now, timeout):
                row.resume_status = row.status
                row.status = Presence.OFFLINE
                row.updated_at = now
                log.info("staff %s: console closed, offline", row.staff_id)

    def members(self) -> list[StaffMember]:
        """Active staff with a presence, as the routing core sees them."""
        rows = self.session.execute(
            select(Staff, StaffPresence)
            .join(StaffPresence, StaffPresence.staff_id == Staff.id)
            .where(Staff.active.is_(True))
            .options(selectinload(Staff.skills), selectinload(Staff.departments))
        ).all()
        return [
            StaffMember(
                staff.id,
                frozenset(s.id for s in staff.skills if s.active),
                Presence(presence.status),
                presence.idle_since,
                frozenset(d.id for d in staff.departments),
            )
            for staff, presence in rows
        ]
