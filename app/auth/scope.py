"""What a staff member may see and change: the one place department scope is decided.

An administrator sees the whole city. Other staff see the applications of
their departments, and the bookings they can serve: their own and those of
the services they are trained for (the same rule opens a booking's page, its
slip, its documents and its call).
Domain services take a :class:`StaffScope` and filter or refuse through it,
so a route cannot forget the rule: it never decides it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, true
from sqlalchemy.orm import InstrumentedAttribute

from app.auth.errors import Forbidden
from scheduler.models import Booking, Staff


@dataclass(frozen=True, slots=True)
class StaffScope:
    staff_id: int
    is_admin: bool
    department_ids: frozenset[int]
    # Services the staff member is trained for: the bookings they may serve.
    service_ids: frozenset[int]

    @classmethod
    def of(cls, staff: Staff) -> StaffScope:
        return cls(
            staff_id=staff.id,
            is_admin=staff.is_admin,
            department_ids=frozenset(d.id for d in staff.departments),
            service_ids=frozenset(s.id for s in staff.skills),
        )

    # -- a staff member's own things (busy times, calendar) -------------------------

    def require_self(self, staff_id: int) -> None:
        """Only the staff member themself, or an administrator."""
        if staff_id != self.staff_id and not self.is_admin:
            raise Forbidden

    # -- departments ---------------------------------------------------------------

    def covers_department(self, department_id: int | None) -> bool:
        return self.is_admin or (department_id is not None and department_id in self.department_ids)

    def require_department(self, department_id: int | None) -> None:
        if not self.covers_department(department_id):
            raise Forbidden

    def department_clause(self, column: InstrumentedAttribute[int]) -> ColumnElement[bool]:
        """A WHERE clause keeping the rows of the departments in scope."""
        if self.is_admin:
            return true()
        return column.in_(sorted(self.department_ids))

    # -- bookings ------------------------------------------------------------------

    def covers_booking(self, booking: Booking) -> bool:
        """Own, trained for its service, or an administrator."""
        return (
            self.is_admin
            or booking.staff_id == self.staff_id
            or booking.service_id in self.service_ids
        )

    def require_booking(self, booking: Booking) -> None:
        if not self.covers_booking(booking):
            raise Forbidden
