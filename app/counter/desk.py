"""A staff member at their console: presence chosen by hand, the console's
and the call page's polls, and what rings at them. Every poll runs a routing
round, so a ring that lapsed moves on even when no kiosk is polling."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.counter.locking import routing_lock
from app.counter.models import RingOffer
from app.counter.presence import PresenceBook
from app.counter.rings import Rings
from app.counter.rounds import Rounds
from app.counter.settings import CounterSettings
from scheduler.models import Staff
from scheduler.routing import Presence

log = logging.getLogger(__name__)


class Desk:
    def __init__(self, session: Session, tz: ZoneInfo, settings: CounterSettings) -> None:
        self.session = session
        self.rounds = Rounds(session, tz, settings)
        self.presence = PresenceBook(session, settings)
        self.rings = Rings(session)

    def set_presence(self, staff: Staff, status: Presence, now: datetime) -> None:
        routing_lock(self.session)
        self.presence.choose(staff.id, status, now)
        self.rounds.route(now)

    def heartbeat(self, staff: Staff, now: datetime) -> None:
        """The call page's poll: a staff member in a call is at their desk."""
        routing_lock(self.session)
        self.presence.seen(staff.id, now)
        self.rounds.route(now)

    def ringing(self, staff: Staff, now: datetime) -> list[RingOffer]:
        """Everything ringing at this staff member (tickets and hand-overs, after
        a routing round); asking is the console's poll, so it counts as being seen."""
        self.heartbeat(staff, now)
        return self.rings.ringing(staff_id=staff.id)
