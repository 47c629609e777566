"""窓口の混雑: how many wait at each branch's kiosks now, and how long, from the counter queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.counter.models import QueueTicket, TicketStatus
from app.counter.settings import CounterSettings
from app.counter.tickets import Tickets
from scheduler.models import Branch, Kiosk


@dataclass(frozen=True)
class BranchWait:
    name_ja: str
    name_en: str
    waiting: int
    # The estimate for the last one in the queue, i.e. about what a newcomer waits.
    wait: timedelta


def branch_waits(
    session: Session, tz: ZoneInfo, settings: CounterSettings, now: datetime
) -> list[BranchWait]:
    counter = Tickets(session, tz, settings)
    result = []
    for branch in session.scalars(select(Branch).order_by(Branch.id)):
        tickets = session.scalars(
            select(QueueTicket)
            .join(Kiosk, Kiosk.id == QueueTicket.kiosk_id)
            .where(Kiosk.branch_id == branch.id, QueueTicket.status == TicketStatus.WAITING)
            .order_by(QueueTicket.queued_at)
        ).all()
        wait = timedelta(0)
        for ticket in tickets:
            estimate = counter.view(ticket, now).estimate
            if estimate is not None:
                wait = max(wait, estimate)
        result.append(BranchWait(branch.name_ja, branch.name_en, len(tickets), wait))
    return result
