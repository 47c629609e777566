"""``madoguchi import FILE.yaml``: upsert a city's configuration into the database.

``load_city_file`` (from ``scheduler.city_file``) reads and validates the
file; ``import_city`` writes it into the caller's session and never commits,
so the caller's single commit makes the whole file visible at once and any
error rolls all of it back.

Matching and replacement rules:

* departments, services, branches and kiosks are matched by ``slug``, staff by
  ``login``; an entry that matches nothing is created, one that matches is
  updated to what the file says (a field left out takes its default);
* the parts of an imported entity are replaced as a whole: department and
  staff weekly hours, date overrides, staff leave, a staff member's
  departments and skills, the city's closed days;
* entities the file does not mention are left alone, never deleted (bookings
  and session records point at them); to retire a service, a staff member or
  a kiosk, keep it in the file with ``active: false``;
* a staff password is kept when the file gives none, so re-importing a file
  without credentials never locks anyone out.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, time
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from scheduler.city_file import (
    WEEKDAYS,
    CityConfig,
    CitySection,
    OverrideEntry,
    StaffEntry,
    Weekday,
    load_city_file,
)
from scheduler.errors import ImportFileError
from scheduler.form_import import check_form_services, import_forms
from scheduler.interpreter_import import (
    check_interpreter_languages,
    import_interpreter_languages,
    import_interpreters,
)
from scheduler.models import (
    Branch,
    City,
    CityClosure,
    Department,
    DepartmentHours,
    HoursOverride,
    Kiosk,
    Service,
    Staff,
    StaffHours,
    StaffLeave,
)
from scheduler.types import Channel

__all__ = ["CityConfig", "ImportReport", "KindCounts", "import_city", "load_city_file"]

log = logging.getLogger(__name__)

# ``SchedulingService.closure_policy`` reads the city-wide row by this id.
CITY_ID = 1

Window = tuple[int, time, time]  # weekday, start, end
OverrideRow = tuple[date, time | None, time | None, str]


@dataclass
class KindCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def count(self, *, created: bool, changed: bool) -> None:
        if created:
            self.created += 1
        elif changed:
            self.updated += 1
        else:
            self.unchanged += 1


@dataclass
class ImportReport:
    """How many entities of each kind the import created, updated or left as they were."""

    city: KindCounts = field(default_factory=KindCounts)
    departments: KindCounts = field(default_factory=KindCounts)
    services: KindCounts = field(default_factory=KindCounts)
    staff: KindCounts = field(default_factory=KindCounts)
    branches: KindCounts = field(default_factory=KindCounts)
    kiosks: KindCounts = field(default_factory=KindCounts)
    interpreter_languages: KindCounts = field(default_factory=KindCounts)
    interpreters: KindCounts = field(default_factory=KindCounts)
    forms: KindCounts = field(default_factory=KindCounts)

    def kinds(self) -> dict[str, KindCounts]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def created(self) -> int:
        return sum(c.created for c in self.kinds().values())

    @property
    def updated(self) -> int:
        return sum(c.updated for c in self.kinds().values())

    def __str__(self) -> str:
        return "\n".join(
            f"{kind}: {c.created} created, {c.updated} updated, {c.unchanged} unchanged"
            for kind, c in self.kinds().items()
        )


def import_city(
    session: Session, config: CityConfig, *, hasher: PasswordHasher | None = None
) -> ImportReport:
    """Upsert everything ``config`` describes into ``session``; the caller commits.

    References (a service's department, a staff member's departments and
    skills) may name entries of the file or rows already in the database.
    Unknown ones raise ``ImportFileError`` with the file's lines before
    anything is written. Entities missing from the file are not deleted (see
    the module docstring). ``hasher`` hashes plain-text demo passwords
    (argon2 defaults when None).
    """
    importer = _Importer(session, config, hasher or PasswordHasher())
    importer.check_references()
    check_interpreter_languages(session, config, config.source)
    check_form_services(session, config, config.source)
    if config.city is not None:
        importer.import_city_section(config.city)
    importer.import_departments()
    importer.import_services()
    importer.import_staff()
    importer.import_branches()
    import_interpreter_languages(session, config, importer.report.interpreter_languages.count)
    session.flush()  # languages before the interpreters that name them
    import_interpreters(session, config, importer.report.interpreters.count)
    session.flush()  # services' ids for the form templates
    import_forms(session, config, importer.report.forms.count)
    session.flush()
    report = importer.report
    log.info(
        "city file %s imported: %d created, %d updated",
        config.source.filename,
        report.created,
        report.updated,
    )
    return report


def _assign(obj: object, values: Mapping[str, Any]) -> bool:
    """Set the attributes that differ; True when any did."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _weekly(hours: Mapping[Weekday, Sequence[tuple[time, time]]]) -> list[Window]:
    return sorted((WEEKDAYS.index(day), s, e) for day, windows in hours.items() for s, e in windows)


def _union(windows: Iterable[Window]) -> list[Window]:
    """Merge overlapping or touching windows of the same weekday."""
    merged: list[Window] = []
    for day, start, end in sorted(windows):
        if merged and merged[-1][0] == day and start <= merged[-1][2]:
            last = merged[-1]
            merged[-1] = (day, last[1], max(last[2], end))
        else:
            merged.append((day, start, end))
    return merged


def _override_rows(entries: Sequence[OverrideEntry]) -> list[OverrideRow]:
    rows: list[OverrideRow] = []
    for entry in entries:
        if not entry.hours:
            rows.append((entry.date, None, None, entry.note))  # closed all day
        rows.extend((entry.date, start, end, entry.note) for start, end in entry.hours)
    return rows


def _as_override_row(row: HoursOverride) -> OverrideRow:
    return (row.day, row.start, row.end, row.note)


def _channels(names: Sequence[str]) -> str:
    # Canonical order, so reordering the list in the file is not a change.
    return ",".join(c.value for c in Channel if c.value in names)


class _Importer:
    def __init__(self, session: Session, config: CityConfig, hasher: PasswordHasher) -> None:
        self.session = session
        self.config = config
        self.source = config.source
        self.hasher = hasher
        self.report = ImportReport()
        # Everything that may be referenced or matched, loaded once up front.
        self.departments: dict[str, Department] = {
            d.slug: d
            for d in session.scalars(select(Department).options(selectinload(Department.hours)))
        }
        self.services: dict[str, Service] = {s.slug: s for s in session.scalars(select(Service))}

    # -- references -------------------------------------------------------------

    def check_references(self) -> None:
        department_slugs = set(self.departments) | {d.slug for d in self.config.departments}
        service_slugs = set(self.services) | {s.slug for s in self.config.services}
        problems = []
        for i, service in enumerate(self.config.services):
            if service.department not in department_slugs:
                problems.append(
                    self.source.problem(
                        ("services", i, "department"),
                        f"unknown department {service.department!r}",
                    )
                )
        for i, person in enumerate(self.config.staff):
            for j, slug in enumerate(person.departments):
                if slug not in department_slugs:
                    problems.append(
                        self.source.problem(
                            ("staff", i, "departments", j), f"unknown department {slug!r}"
                        )
                    )
            for j, slug in enumerate(person.skills):
                if slug not in service_slugs:
                    problems.append(
                        self.source.problem(("staff", i, "skills", j), f"unknown service {slug!r}")
                    )
        if problems:
            raise ImportFileError(self.source.filename, problems)

    # -- city ---------------------------------------------------------------------

    def import_city_section(self, section: CitySection) -> None:
        values = {
            "name_ja": section.name_ja,
            "name_en": section.name_en,
            "close_public_holidays": section.close_public_holidays,
            "close_year_end": section.close_year_end,
        }
        city = self.session.get(City, CITY_ID)
        created = city is None
        changed = False
        if city is None:
            self.session.add(City(id=CITY_ID, **values))
        else:
            changed = _assign(city, values)

        wanted = {d.date: d.note for d in section.closed_days}
        for closure in self.session.scalars(select(CityClosure)).all():
            note = wanted.pop(closure.day, None)
            if note is None:
                self.session.delete(closure)
                changed = True
            elif closure.note != note:
                closure.note = note
                changed = True
        for day, note in wanted.items():
            self.session.add(CityClosure(day=day, note=note))
            changed = True
        self.report.city.count(created=created, changed=changed)

    # -- departments ------------------------------------------------------------------

    def import_departments(self) -> None:
        outcome: dict[str, tuple[bool, bool]] = {}  # slug -> (created, changed)
        for index, entry in enumerate(self.config.departments):
            values = {
                "name_ja": entry.name_ja,
                "name_en": entry.name_en,
                "description_ja": entry.description_ja,
                "description_en": entry.description_en,
                "sort_order": index if entry.sort_order is None else entry.sort_order,
            }
            dept = self.departments.get(entry.slug)
            created = dept is None
            changed = False
            if dept is None:
                dept = Department(slug=entry.slug, **values)
                self.session.add(dept)
                self.departments[entry.slug] = dept
            else:
                changed = _assign(dept, values)
            wanted = _weekly(entry.hours)
            if wanted != sorted((h.weekday, h.start, h.end) for h in dept.hours):
                dept.hours = [DepartmentHours(weekday=w, start=s, end=e) for w, s, e in wanted]
                changed = True
            outcome[entry.slug] = (created, changed)

        self.session.flush()  # ids for the override rows
        existing = self._overrides(
            "department_id",
            [self.departments[e.slug].id for e in self.config.departments],
        )
        for entry in self.config.departments:
            dept = self.departments[entry.slug]
            created, changed = outcome[entry.slug]
            if self._replace_overrides(existing.get(dept.id, []), entry.overrides, dept_id=dept.id):
                changed = True
            self.report.departments.count(created=created, changed=changed)

    def _overrides(
        self, owner: Literal["department_id", "staff_id"], ids: Sequence[int]
    ) -> dict[int, list[HoursOverride]]:
        """The current override rows of each department (or staff member) in ``ids``."""
        column = getattr(HoursOverride, owner)
        by_owner: dict[int, list[HoursOverride]] = {}
        if ids:
            for row in self.session.scalars(select(HoursOverride).where(column.in_(ids))):
                by_owner.setdefault(getattr(row, owner), []).append(row)
        return by_owner

    def _replace_overrides(
        self,
        current: Sequence[HoursOverride],
        entries: Sequence[OverrideEntry],
        *,
        dept_id: int | None = None,
        staff_id: int | None = None,
    ) -> bool:
        wanted = _override_rows(entries)
        # Compared as multisets: closed days have None times, which do not sort.
        if Counter(wanted) == Counter(_as_override_row(r) for r in current):
            return False
        for row in current:
            self.session.delete(row)
        self.session.add_all(
            HoursOverride(
                department_id=dept_id, staff_id=staff_id, day=day, start=start, end=end, note=note
            )
            for day, start, end, note in wanted
        )
        return True

    # -- services -------------------------------------------------------------------

    def import_services(self) -> None:
        for index, entry in enumerate(self.config.services):
            dept = self.departments[entry.department]
            values = {
                "department_id": dept.id,
                "name_ja": entry.name_ja,
                "name_en": entry.name_en,
                "description_ja": entry.description_ja,
                "description_en": entry.description_en,
                "duration_min": entry.duration,
                "buffer_before_min": entry.buffer_before,
                "buffer_after_min": entry.buffer_after,
                "slot_step_min": entry.slot_step,
                "channels": _channels(entry.channels),
                "min_notice_min": entry.min_notice,
                "horizon_days": entry.horizon_days,
                "daily_cap": entry.daily_cap,
                "change_cutoff_min": entry.change_cutoff,
                "active": entry.active,
                "sort_order": index if entry.sort_order is None else entry.sort_order,
                "rush": entry.rush,
                "rush_opens_at": (
                    entry.rush_opens_at.astimezone(UTC) if entry.rush_opens_at else None
                ),
            }
            service = self.services.get(entry.slug)
            if service is None:
                service = Service(slug=entry.slug, **values)
                self.session.add(service)
                self.services[entry.slug] = service
                self.report.services.count(created=True, changed=True)
            else:
                self.report.services.count(created=False, changed=_assign(service, values))

    # -- staff ------------------------------------------------------------------------

    def import_staff(self) -> None:
        logins = [e.login for e in self.config.staff]
        people: dict[str, Staff] = {}
        if logins:
            people = {
                s.login: s
                for s in self.session.scalars(
                    select(Staff)
                    .where(Staff.login.in_(logins))
                    .options(
                        selectinload(Staff.hours),
                        selectinload(Staff.departments),
                        selectinload(Staff.skills),
                    )
                )
            }
        outcome: dict[str, tuple[bool, bool]] = {}
        for entry in self.config.staff:
            person = people.get(entry.login)
            created = person is None
            if person is None:
                person = Staff(login=entry.login, display_name=entry.display_name)
                self.session.add(person)
                people[entry.login] = person
            outcome[entry.login] = (created, self._update_person(person, entry))

        self.session.flush()  # ids for leave and override rows
        ids = [people[login].id for login in logins]
        overrides = self._overrides("staff_id", ids)
        leave: dict[int, list[StaffLeave]] = {}
        if ids:
            for row in self.session.scalars(select(StaffLeave).where(StaffLeave.staff_id.in_(ids))):
                leave.setdefault(row.staff_id, []).append(row)
        for entry in self.config.staff:
            person = people[entry.login]
            created, changed = outcome[entry.login]
            if self._replace_leave(person.id, leave.get(person.id, []), entry):
                changed = True
            if self._replace_overrides(
                overrides.get(person.id, []), entry.overrides, staff_id=person.id
            ):
                changed = True
            self.report.staff.count(created=created, changed=changed)

    def _update_person(self, person: Staff, entry: StaffEntry) -> bool:
        changed = _assign(
            person,
            {
                "display_name": entry.display_name,
                "email": entry.email,
                "is_admin": entry.is_admin,
                "active": entry.active,
                "password_hash": self._password_hash(person.password_hash, entry),
            },
        )
        departments = [self.departments[slug] for slug in entry.departments]
        if {d.slug for d in person.departments} != set(entry.departments):
            person.departments = departments
            changed = True
        if {s.slug for s in person.skills} != set(entry.skills):
            person.skills = [self.services[slug] for slug in entry.skills]
            changed = True

        if entry.hours is not None:
            wanted = _weekly(entry.hours)
        else:
            # Working when any of their departments is open, as a starting point
            # the city can narrow with explicit hours for part-time staff.
            wanted = _union((h.weekday, h.start, h.end) for d in departments for h in d.hours)
        if wanted != sorted((h.weekday, h.start, h.end) for h in person.hours):
            person.hours = [StaffHours(weekday=w, start=s, end=e) for w, s, e in wanted]
            changed = True
        return changed

    def _password_hash(self, current: str | None, entry: StaffEntry) -> str | None:
        if entry.password_hash is not None:
            return entry.password_hash
        if entry.password is None:
            return current
        # argon2 salts every hash, so re-hashing would make each re-import an
        # "update"; keep the stored hash while it still matches.
        if current is not None:
            try:
                self.hasher.verify(current, entry.password)
            except (VerificationError, InvalidHashError):
                pass
            else:
                if not self.hasher.check_needs_rehash(current):
                    return current
        return self.hasher.hash(entry.password)

    def _replace_leave(
        self, staff_id: int, current: Sequence[StaffLeave], entry: StaffEntry
    ) -> bool:
        wanted = [(lv.start.astimezone(UTC), lv.end.astimezone(UTC), lv.note) for lv in entry.leave]
        if Counter(wanted) == Counter((r.start_at, r.end_at, r.note) for r in current):
            return False
        for row in current:
            self.session.delete(row)
        self.session.add_all(
            StaffLeave(staff_id=staff_id, start_at=start, end_at=end, note=note)
            for start, end, note in wanted
        )
        return True

    # -- branches and kiosks ---------------------------------------------------------------

    def import_branches(self) -> None:
        slugs = [b.slug for b in self.config.branches]
        kiosk_slugs = [k.slug for b in self.config.branches for k in b.kiosks]
        branches: dict[str, Branch] = {}
        kiosks: dict[str, Kiosk] = {}
        if slugs:
            branches = {
                b.slug: b
                for b in self.session.scalars(select(Branch).where(Branch.slug.in_(slugs)))
            }
        if kiosk_slugs:
            kiosks = {
                k.slug: k
                for k in self.session.scalars(select(Kiosk).where(Kiosk.slug.in_(kiosk_slugs)))
            }
        for entry in self.config.branches:
            values = {
                "name_ja": entry.name_ja,
                "name_en": entry.name_en,
                "address": entry.address,
                **({"address_en": entry.address_en} if entry.address_en is not None else {}),
            }
            branch = branches.get(entry.slug)
            if branch is None:
                branch = Branch(slug=entry.slug, **values)
                self.session.add(branch)
                self.report.branches.count(created=True, changed=True)
            else:
                self.report.branches.count(created=False, changed=_assign(branch, values))
            for kiosk_entry in entry.kiosks:
                kiosk = kiosks.get(kiosk_entry.slug)
                kiosk_values = {
                    "name": kiosk_entry.name,
                    **({"name_en": kiosk_entry.name_en} if kiosk_entry.name_en is not None else {}),
                    "active": kiosk_entry.active,
                }
                if kiosk is None:
                    self.session.add(Kiosk(slug=kiosk_entry.slug, branch=branch, **kiosk_values))
                    self.report.kiosks.count(created=True, changed=True)
                    continue
                changed = _assign(kiosk, kiosk_values)
                if kiosk.branch is not branch:  # moved to another branch
                    kiosk.branch = branch
                    changed = True
                self.report.kiosks.count(created=False, changed=changed)
