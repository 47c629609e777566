"""Writes of the admin area: the city's departments, services, staff, hours, kiosks.

Routes hand in values already parsed by ``app.admin.forms``; this service
checks what needs the database (unique slugs and logins, references, not
locking oneself out), writes, and never commits: the route commits once.
Problems are raised as ``AdminInputError`` naming the form field.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from app.admin.forms import Message, Windows, format_windows, message, parse_windows
from app.auth.sessions import (
    password_hashes,
    revoke_changed_passwords,
    revoke_staff_sessions,
)
from scheduler.city_file import parse_city_yaml
from scheduler.importer import ImportReport, import_city
from scheduler.models import (
    Branch,
    City,
    CityClosure,
    Department,
    DepartmentHours,
    HoursOverride,
    Interpreter,
    InterpreterHours,
    InterpreterLanguage,
    Kiosk,
    Service,
    Staff,
    StaffHours,
    StaffLeave,
)
from scheduler.types import Channel

log = logging.getLogger(__name__)

CITY_ID = 1  # ``SchedulingService.closure_policy`` reads this row
IMPORT_MAX_BYTES = 2 * 1024 * 1024


class AdminInputError(Exception):
    """A value the database side refuses; ``field`` names the form field."""

    def __init__(self, field: str, msg: Message) -> None:
        super().__init__(msg[0])
        self.field = field
        self.message = msg


class AdminService:
    def __init__(self, session: Session, tz: ZoneInfo) -> None:
        self.session = session
        self.tz = tz

    # -- reading -----------------------------------------------------------------

    def departments(self) -> list[Department]:
        stmt = select(Department).order_by(Department.sort_order, Department.id)
        return list(self.session.scalars(stmt))

    def services(self) -> list[Service]:
        stmt = (
            select(Service)
            .join(Department, Department.id == Service.department_id)
            .options(selectinload(Service.department))
            .order_by(Department.sort_order, Department.id, Service.sort_order, Service.id)
        )
        return list(self.session.scalars(stmt))

    def staff(self) -> list[Staff]:
        stmt = (
            select(Staff)
            .options(selectinload(Staff.departments), selectinload(Staff.skills))
            .order_by(Staff.active.desc(), Staff.login)
        )
        return list(self.session.scalars(stmt))

    def branches(self) -> list[Branch]:
        stmt = select(Branch).options(selectinload(Branch.kiosks)).order_by(Branch.id)
        return list(self.session.scalars(stmt))

    def interpreter_languages(self) -> list[InterpreterLanguage]:
        stmt = select(InterpreterLanguage).order_by(
            InterpreterLanguage.sort_order, InterpreterLanguage.code
        )
        return list(self.session.scalars(stmt))

    def interpreters(self) -> list[Interpreter]:
        stmt = (
            select(Interpreter)
            .options(selectinload(Interpreter.hours))
            .order_by(Interpreter.active.desc(), Interpreter.name)
        )
        return list(self.session.scalars(stmt))

    def get(self, model: type[Any], row_id: int | str) -> Any:
        return self.session.get(model, row_id)

    def counts(self) -> dict[str, int]:
        def count(model: type[Any]) -> int:
            return int(self.session.scalar(select(func.count()).select_from(model)) or 0)

        return {
            "departments": count(Department),
            "services": count(Service),
            "staff": count(Staff),
            "branches": count(Branch),
            "kiosks": count(Kiosk),
            "interpreter-languages": count(InterpreterLanguage),
            "interpreters": count(Interpreter),
            "closures": count(CityClosure),
        }

    # -- helpers -------------------------------------------------------------------

    def _unique(self, model: type[Any], column: str, value: str, row_id: int | None) -> None:
        existing = self.session.scalar(select(model).where(getattr(model, column) == value))
        if existing is not None and existing.id != row_id:
            raise AdminInputError(column, message("This is already used. Choose another."))

    @staticmethod
    def _assign(obj: object, values: Mapping[str, Any], names: Sequence[str]) -> None:
        for name in names:
            setattr(obj, name, values[name])

    def _audit(self, admin: Staff, what: str, row_id: int) -> None:
        log.info("admin %s saved %s %s", admin.id, what, row_id)

    # -- city ------------------------------------------------------------------------

    def city(self) -> City:
        city = self.session.get(City, CITY_ID)
        if city is None:
            city = City(id=CITY_ID, name_ja="", name_en="")
            city.close_public_holidays = city.close_year_end = True
            self.session.add(city)
        return city

    def save_city(self, admin: Staff, values: Mapping[str, Any]) -> City:
        city = self.city()
        self._assign(
            city, values, ("name_ja", "name_en", "close_public_holidays", "close_year_end")
        )
        self.session.flush()
        self._audit(admin, "city", city.id)
        return city

    def closures(self) -> list[CityClosure]:
        return list(self.session.scalars(select(CityClosure).order_by(CityClosure.day)))

    def add_closure(self, admin: Staff, day: date, note: str) -> None:
        row = self.session.get(CityClosure, day)
        if row is None:
            self.session.add(CityClosure(day=day, note=note))
        else:
            row.note = note
        self.session.flush()
        log.info("admin %s closed the city on %s", admin.id, day.isoformat())

    def delete_closure(self, admin: Staff, day: date) -> None:
        self.session.execute(delete(CityClosure).where(CityClosure.day == day))
        log.info("admin %s reopened the city on %s", admin.id, day.isoformat())

    # -- departments and services ---------------------------------------------------------

    def save_department(
        self, admin: Staff, department: Department | None, values: Mapping[str, Any]
    ) -> Department:
        self._unique(Department, "slug", values["slug"], department.id if department else None)
        if department is None:
            department = Department()
            self.session.add(department)
        names = ("slug", "name_ja", "name_en", "description_ja", "description_en", "sort_order")
        self._assign(department, values, names)
        self.session.flush()
        self._audit(admin, "department", department.id)
        return department

    def save_service(
        self, admin: Staff, service: Service | None, values: Mapping[str, Any]
    ) -> Service:
        self._unique(Service, "slug", values["slug"], service.id if service else None)
        department_id = int(values["department_id"])
        if self.session.get(Department, department_id) is None:
            raise AdminInputError("department_id", message("Choose from the list."))
        if service is None:
            service = Service()
            self.session.add(service)
        service.department_id = department_id
        service.channels = ",".join(c.value for c in Channel if c.value in values["channels"])
        names = (
            "slug", "name_ja", "name_en", "description_ja", "description_en", "duration_min",
            "buffer_before_min", "buffer_after_min", "slot_step_min", "min_notice_min",
            "horizon_days", "daily_cap", "change_cutoff_min", "active", "sort_order", "rush",
        )  # fmt: skip
        self._assign(service, values, names)
        # The form's wall-clock time in the city, stored as an instant.
        opens = values.get("rush_opens_at")
        service.rush_opens_at = opens.replace(tzinfo=self.tz).astimezone(UTC) if opens else None
        self.session.flush()
        self._audit(admin, "service", service.id)
        return service

    # -- staff ------------------------------------------------------------------------------

    def save_staff(
        self,
        admin: Staff,
        person: Staff | None,
        values: Mapping[str, Any],
        hasher: PasswordHasher,
    ) -> Staff:
        self._unique(Staff, "login", values["login"], person.id if person else None)
        if person is not None and person.id == admin.id:
            # An admin cannot lock themself out; another admin has to do it.
            if not values["is_admin"]:
                raise AdminInputError(
                    "is_admin", message("You cannot remove your own administrator rights.")
                )
            if not values["active"]:
                raise AdminInputError("active", message("You cannot deactivate yourself."))
        departments = [d for d in self.departments() if str(d.id) in set(values["departments"])]
        skills = [s for s in self.services() if str(s.id) in set(values["skills"])]
        if person is None:
            person = Staff(feed_version=1)
            self.session.add(person)
        self._assign(person, values, ("login", "display_name", "email", "is_admin", "active"))
        person.departments = departments
        person.skills = skills
        if values.get("password"):
            # argon2id with the library's current parameters, like the login.
            person.password_hash = hasher.hash(values["password"])
            if person.id is not None:
                # A new password ends every session the old one opened.
                revoke_staff_sessions(self.session, person.id)
        self.session.flush()
        self._audit(admin, "staff", person.id)
        return person

    def sign_out_everywhere(self, admin: Staff, person: Staff) -> int:
        """End every login session of ``person`` (a lost phone, a leaver); how many."""
        count = revoke_staff_sessions(self.session, person.id)
        log.info("admin %s ended %s sessions of staff %s", admin.id, count, person.id)
        return count

    # -- weekly hours, date overrides, leave ------------------------------------------------

    def set_weekly_hours(
        self, admin: Staff, owner: Department | Staff, by_weekday: Mapping[int, Windows]
    ) -> None:
        model = DepartmentHours if isinstance(owner, Department) else StaffHours
        rows = [
            model(weekday=weekday, start=start, end=end)
            for weekday in range(7)
            for start, end in by_weekday.get(weekday, [])
        ]
        # delete-orphan on the relationship removes the old rows.
        owner.hours = rows  # type: ignore[assignment]
        self.session.flush()
        self._audit(admin, f"{type(owner).__name__.lower()} hours", owner.id)

    def overrides(
        self, *, department_id: int | None = None, staff_id: int | None = None
    ) -> list[tuple[date, list[tuple[time, time]], str]]:
        """Per date: the day's windows (empty: closed) and the note."""
        column = HoursOverride.department_id if department_id else HoursOverride.staff_id
        rows = self.session.scalars(
            select(HoursOverride)
            .where(column == (department_id or staff_id))
            .order_by(HoursOverride.day, HoursOverride.start)
        )
        by_day: dict[date, tuple[list[tuple[time, time]], str]] = {}
        for row in rows:
            windows, _ = by_day.setdefault(row.day, ([], row.note))
            if row.start is not None and row.end is not None:
                windows.append((row.start, row.end))
        return [(day, w, note) for day, (w, note) in sorted(by_day.items())]

    def set_override(
        self,
        admin: Staff,
        day: date,
        windows: Windows,
        note: str,
        *,
        department_id: int | None = None,
        staff_id: int | None = None,
    ) -> None:
        """Replace the date's override: no windows closes the day."""
        self.delete_override(admin, day, department_id=department_id, staff_id=staff_id)
        owner = {"department_id": department_id, "staff_id": staff_id}
        if windows:
            for start, end in windows:
                self.session.add(HoursOverride(day=day, start=start, end=end, note=note, **owner))
        else:
            self.session.add(HoursOverride(day=day, start=None, end=None, note=note, **owner))
        self.session.flush()
        log.info(
            "admin %s set override %s dept=%s staff=%s",
            admin.id, day.isoformat(), department_id, staff_id,
        )  # fmt: skip

    def delete_override(
        self,
        admin: Staff,
        day: date,
        *,
        department_id: int | None = None,
        staff_id: int | None = None,
    ) -> None:
        column = HoursOverride.department_id if department_id else HoursOverride.staff_id
        self.session.execute(
            delete(HoursOverride).where(
                column == (department_id or staff_id), HoursOverride.day == day
            )
        )

    def leave(self, staff_id: int) -> list[StaffLeave]:
        stmt = select(StaffLeave).where(StaffLeave.staff_id == staff_id)
        return list(self.session.scalars(stmt.order_by(StaffLeave.start_at)))

    def add_leave(
        self, admin: Staff, staff_id: int, start: datetime, end: datetime, note: str
    ) -> StaffLeave:
        start_at, end_at = start.replace(tzinfo=self.tz), end.replace(tzinfo=self.tz)
        if not start_at < end_at:
            raise AdminInputError("end", message("The end must be after the start."))
        row = StaffLeave(staff_id=staff_id, start_at=start_at, end_at=end_at, note=note)
        self.session.add(row)
        self.session.flush()
        self._audit(admin, "leave", row.id)
        return row

    def delete_leave(self, admin: Staff, staff_id: int, leave_id: int) -> None:
        self.session.execute(
            delete(StaffLeave).where(StaffLeave.id == leave_id, StaffLeave.staff_id == staff_id)
        )
        log.info("admin %s deleted leave %s", admin.id, leave_id)

    # -- branches and kiosks -------------------------------------------------------------------

    def save_branch(self, admin: Staff, branch: Branch | None, values: Mapping[str, Any]) -> Branch:
        self._unique(Branch, "slug", values["slug"], branch.id if branch else None)
        if branch is None:
            branch = Branch()
            self.session.add(branch)
        self._assign(branch, values, ("slug", "name_ja", "name_en", "address", "address_en"))
        self.session.flush()
        self._audit(admin, "branch", branch.id)
        return branch

    def save_kiosk(self, admin: Staff, kiosk: Kiosk | None, values: Mapping[str, Any]) -> Kiosk:
        self._unique(Kiosk, "slug", values["slug"], kiosk.id if kiosk else None)
        branch_id = int(values["branch_id"])
        if self.session.get(Branch, branch_id) is None:
            raise AdminInputError("branch_id", message("Choose from the list."))
        if kiosk is None:
            kiosk = Kiosk()
            self.session.add(kiosk)
        kiosk.branch_id = branch_id
        self._assign(kiosk, values, ("slug", "name", "name_en", "active"))
        self.session.flush()
        self._audit(admin, "kiosk", kiosk.id)
        return kiosk

    # -- interpreters ----------------------------------------------------------------------

    def save_interpreter_language(
        self, admin: Staff, row: InterpreterLanguage | None, values: Mapping[str, Any]
    ) -> InterpreterLanguage:
        if row is None:
            if self.session.get(InterpreterLanguage, values["code"]) is not None:
                raise AdminInputError("code", message("This is already used. Choose another."))
            row = InterpreterLanguage(code=values["code"])
            self.session.add(row)
        names = ("name_ja", "name_en", "name_native", "sort_order", "active")
        self._assign(row, values, names)
        self.session.flush()
        log.info("admin %s saved interpreter language %s", admin.id, row.code)
        return row

    def save_interpreter(
        self, admin: Staff, person: Interpreter | None, values: Mapping[str, Any]
    ) -> Interpreter:
        self._unique(Interpreter, "slug", values["slug"], person.id if person else None)
        by_weekday = parse_weekly_hours(values.get("weekly_hours") or "")
        known = {row.code for row in self.interpreter_languages()}
        chosen = [c for c in values["languages"] if c in known]
        if person is None:
            person = Interpreter()
            self.session.add(person)
        self._assign(person, values, ("slug", "name", "email", "locale", "active"))
        person.languages = ",".join(chosen)
        # delete-orphan on the relationship removes the old rows.
        person.hours = [
            InterpreterHours(weekday=weekday, start=start, end=end)
            for weekday in range(7)
            for start, end in by_weekday.get(weekday, [])
        ]
        self.session.flush()
        self._audit(admin, "interpreter", person.id)
        return person

    # -- YAML import -------------------------------------------------------------------------

    def import_yaml(
        self, admin: Staff, text: str, filename: str, hasher: PasswordHasher
    ) -> ImportReport:
        """Validate and upsert a city file; raises ``ImportFileError`` listing every problem.

        Nothing is committed here: on any error the route rolls the whole
        file back, so an import is all or nothing.
        """
        config = parse_city_yaml(text, filename)
        before = password_hashes(self.session)
        report = import_city(self.session, config, hasher=hasher)
        # A password the file changed ends that staff member's sessions.
        revoke_changed_passwords(self.session, before)
        log.info(
            "admin %s imported a city file: %d created, %d updated",
            admin.id, report.created, report.updated,
        )  # fmt: skip
        return report


# The city file's weekday keys, and Japanese ones as people write them.
WEEKDAY_KEYS = {
    **{k: n for n, k in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{k: n for n, k in enumerate("月火水木金土日")},
}
WEEKDAY_OUT = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_weekly_hours(text: str) -> dict[int, Windows]:
    """``"mon 09:00-12:00, 13:00-17:00"`` lines as windows by weekday (0 = Monday)."""
    out: dict[int, Windows] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        key, _, rest = line.partition(" ")
        weekday = WEEKDAY_KEYS.get(key.strip().lower().rstrip(":"))
        if weekday is None or weekday in out:
            raise AdminInputError(
                "weekly_hours",
                message("{line}: start each line with one day: mon, tue … sun.", line=line),
            )
        windows, problem = parse_windows(rest)
        if problem is not None:
            raise AdminInputError("weekly_hours", problem)
        if not windows:
            raise AdminInputError(
                "weekly_hours", message("{line}: write the hours after the day.", line=line)
            )
        out[weekday] = windows
    return out


def format_weekly_hours(rows: Sequence[InterpreterHours]) -> str:
    by_day: dict[int, Windows] = {}
    for row in rows:
        by_day.setdefault(row.weekday, []).append((row.start, row.end))
    return "\n".join(
        f"{WEEKDAY_OUT[day]} {format_windows(sorted(windows))}"
        for day, windows in sorted(by_day.items())
    )
