"""Who may act on a form: the one place it is decided (docs/forms.md, "Who may").

Staff start a form in a call they may join (a booking they may serve, a
walk-in ticket they hold; administrators any). An existing form is also open
to the staff of its department, who process the application afterwards. The
resident acts with their own call credential: a join token for the form's
room with the role ``resident`` (their link) or ``kiosk`` (the kiosk's ticket).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.auth.errors import Forbidden
from app.auth.scope import StaffScope
from app.counter.models import QueueTicket
from app.forms.models import Form
from app.forms.service import Call
from scheduler.models import Booking

VISITOR_ROLES = frozenset({"resident", "kiosk"})


def covers_call(scope: StaffScope, booking: Booking | None, ticket: QueueTicket | None) -> bool:
    if scope.is_admin:
        return True
    if ticket is not None:
        return ticket.staff_id == scope.staff_id
    return booking is not None and scope.covers_booking(booking)


def require_call(scope: StaffScope, call: Call) -> None:
    if not covers_call(scope, call.booking if call.ticket is None else None, call.ticket):
        raise Forbidden


def require_form(scope: StaffScope, session: Session, form: Form) -> None:
    if scope.covers_department(form.department_id):
        return
    booking = session.get(Booking, form.booking_id) if form.booking_id else None
    ticket = session.get(QueueTicket, form.ticket_id) if form.ticket_id else None
    if not covers_call(scope, booking, ticket):
        raise Forbidden


def require_visitor(claims: dict[str, Any], form: Form) -> None:
    """The join token's claims must be the resident's or kiosk's seat in the form's room."""
    if claims.get("room") != form.room or claims.get("role") not in VISITOR_ROLES:
        raise Forbidden
