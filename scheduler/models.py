"""Database models of the scheduling domain (SQLAlchemy 2, typed).

All instants are stored in UTC (``UTCDateTime``); wall-clock hours are
``Time`` columns interpreted in the city's time zone. The guarantee that one
staff member is never booked twice is enforced by the database itself: an
exclusion constraint on PostgreSQL and triggers on SQLite (see the initial
migration), not only by the Python code in ``scheduler.service``.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    event,
    false,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    mapped_column,
    relationship,
)

from app.core.db import Base


class BookingStatus(StrEnum):
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


class WaitlistStatus(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    BOOKED = "booked"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class City(Base):
    """The single row of city-wide configuration."""

    __tablename__ = "city"
    id: Mapped[int] = mapped_column(primary_key=True)
    name_ja: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    close_public_holidays: Mapped[bool] = mapped_column(Boolean, default=True)
    close_year_end: Mapped[bool] = mapped_column(Boolean, default=True)


class CityClosure(Base):
    """An extra city-wide closed day (e.g. election day, system maintenance)."""

    __tablename__ = "city_closures"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    note: Mapped[str] = mapped_column(String(200), default="")


staff_departments = Table(
    "staff_departments",
    Base.metadata,
    Column("staff_id", ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True),
)

staff_skills = Table(
    "staff_skills",
    Base.metadata,
    Column("staff_id", ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True),
    Column("service_id", ForeignKey("services.id", ondelete="CASCADE"), primary_key=True),
)


class Department(Base):
    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name_ja: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    description_ja: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    services: Mapped[list[Service]] = relationship(
        back_populates="department", order_by="Service.sort_order, Service.id"
    )
    hours: Mapped[list[DepartmentHours]] = relationship(
        cascade="all, delete-orphan", order_by="DepartmentHours.weekday, DepartmentHours.start"
    )


class DepartmentHours(Base):
    __tablename__ = "department_hours"
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int] = mapped_column(Integer)
    start: Mapped[time] = mapped_column(Time)
    end: Mapped[time] = mapped_column(Time)


class Service(Base):
    __tablename__ = "services"
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name_ja: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    # Plain-language "what to prepare" shown before booking.
    description_ja: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    duration_min: Mapped[int] = mapped_column(Integer)
    buffer_before_min: Mapped[int] = mapped_column(Integer, default=0)
    buffer_after_min: Mapped[int] = mapped_column(Integer, default=0)
    slot_step_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Comma-separated ``scheduler.types.Channel`` values.
    channels: Mapped[str] = mapped_column(String(40), default="online")
    min_notice_min: Mapped[int] = mapped_column(Integer, default=120)
    horizon_days: Mapped[int] = mapped_column(Integer, default=60)
    daily_cap: Mapped[int | None] = mapped_column(Integer, nullable=True)
    change_cutoff_min: Mapped[int] = mapped_column(Integer, default=120)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    # An opening-day rush (a subsidy, a vaccination campaign): residents pass the
    # admission queue (app/rush/) before booking; bookings open at ``rush_opens_at``.
    rush: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    rush_opens_at: Mapped[datetime | None] = mapped_column(nullable=True)
    department: Mapped[Department] = relationship(back_populates="services")


class Staff(Base):
    __tablename__ = "staff"
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(200), nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped to revoke every calendar-feed link issued so far.
    feed_version: Mapped[int] = mapped_column(Integer, default=1)
    busy_calendar_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    departments: Mapped[list[Department]] = relationship(secondary=staff_departments)
    skills: Mapped[list[Service]] = relationship(secondary=staff_skills)
    hours: Mapped[list[StaffHours]] = relationship(
        cascade="all, delete-orphan", order_by="StaffHours.weekday, StaffHours.start"
    )


class StaffHours(Base):
    __tablename__ = "staff_hours"
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    start: Mapped[time] = mapped_column(Time)
    end: Mapped[time] = mapped_column(Time)


class HoursOverride(Base):
    """Replaces weekly hours on one date, for a department or a staff member.

    A row without times closes the day; rows with times are the day's hours.
    """

    __tablename__ = "hours_overrides"
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), index=True, nullable=True
    )
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), index=True, nullable=True
    )
    day: Mapped[date] = mapped_column(Date, index=True)
    start: Mapped[time | None] = mapped_column(Time, nullable=True)
    end: Mapped[time | None] = mapped_column(Time, nullable=True)
    note: Mapped[str] = mapped_column(String(200), default="")


class StaffLeave(Base):
    __tablename__ = "staff_leave"
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(String(200), default="")


class ExternalBusy(Base):
    """Busy times imported from a staff member's external calendar."""

    __tablename__ = "external_busy"
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(500), default="")


class Branch(Base):
    __tablename__ = "branches"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name_ja: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(300), default="")
    # The address for English pages; empty: the Japanese one is shown.
    address_en: Mapped[str] = mapped_column(String(300), default="", server_default="")
    kiosks: Mapped[list[Kiosk]] = relationship(back_populates="branch")


class Kiosk(Base):
    __tablename__ = "kiosks"
    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"), index=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # The name for English pages; empty: the Japanese name is shown.
    name_en: Mapped[str] = mapped_column(String(100), default="", server_default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    branch: Mapped[Branch] = relationship(back_populates="kiosks")


class InterpreterLanguage(Base):
    """A language interpreters can be booked for (``jsl`` is Japanese Sign Language)."""

    __tablename__ = "interpreter_languages"
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name_ja: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    # The language's name in its own script (Português, 中文, 手話), for the
    # kiosk's buttons: a resident who needs an interpreter may read neither
    # Japanese nor English.
    name_native: Mapped[str] = mapped_column(String(100), default="", server_default="")
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    # Deactivated languages are no longer offered; existing bookings keep them.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    @property
    def label(self) -> str:
        return self.name_native or self.name_en


class Interpreter(Base):
    """A sign-language or foreign-language interpreter, booked like a second resource.

    The database refuses two confirmed bookings of one interpreter whose
    appointments overlap (migration 0007), as it does for staff.
    """

    __tablename__ = "interpreters"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Comma-separated ``InterpreterLanguage.code`` values.
    languages: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The language of the mails they get ("ja" or "en").
    locale: Mapped[str] = mapped_column(String(5), default="ja", server_default="ja")
    hours: Mapped[list[InterpreterHours]] = relationship(
        cascade="all, delete-orphan",
        order_by="InterpreterHours.weekday, InterpreterHours.start",
    )

    @property
    def language_codes(self) -> list[str]:
        return [c for c in self.languages.split(",") if c]


class InterpreterHours(Base):
    __tablename__ = "interpreter_hours"
    id: Mapped[int] = mapped_column(primary_key=True)
    interpreter_id: Mapped[int] = mapped_column(
        ForeignKey("interpreters.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int] = mapped_column(Integer)
    start: Mapped[time] = mapped_column(Time)
    end: Mapped[time] = mapped_column(Time)


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        Index("ix_bookings_staff_busy", "staff_id", "busy_start", "busy_end"),
        CheckConstraint("busy_start < busy_end", name="busy_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    room_id: Mapped[str] = mapped_column(String(40), unique=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    channel: Mapped[str] = mapped_column(String(10))
    kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosks.id"), nullable=True)
    start_at: Mapped[datetime] = mapped_column(index=True)
    end_at: Mapped[datetime]
    # start/end widened by the service's buffers: what the staff member is busy for.
    busy_start: Mapped[datetime]
    busy_end: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), default=BookingStatus.CONFIRMED)
    resident_name: Mapped[str] = mapped_column(String(100))
    resident_email: Mapped[str | None] = mapped_column(String(200), nullable=True)
    resident_phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    locale: Mapped[str] = mapped_column(String(5), default="ja")
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    booked_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # An interpreter reserved with the staff member, and the language asked for.
    interpreter_id: Mapped[int | None] = mapped_column(
        ForeignKey("interpreters.id"), nullable=True, index=True
    )
    interpreter_language: Mapped[str | None] = mapped_column(String(20), nullable=True)
    service: Mapped[Service] = relationship()
    staff: Mapped[Staff] = relationship(foreign_keys=[staff_id])
    kiosk: Mapped[Kiosk | None] = relationship()
    interpreter: Mapped[Interpreter | None] = relationship()


class WaitlistEntry(Base):
    __tablename__ = "waitlist"
    __table_args__ = (UniqueConstraint("service_id", "day", "email", name="uq_waitlist_person"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    locale: Mapped[str] = mapped_column(String(5), default="ja")
    channel: Mapped[str] = mapped_column(String(10), default="online")
    status: Mapped[str] = mapped_column(String(10), default=WaitlistStatus.WAITING)
    created_at: Mapped[datetime]
    offered_start: Mapped[datetime | None] = mapped_column(nullable=True)
    offer_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"), nullable=True)


class FormTemplate(Base):
    """A form of a procedure, from the city file's ``forms:`` section (docs/forms.md).

    ``definition`` is the template with every default filled in
    (``scheduler.form_templates.definition_json``); ``version`` goes up with
    every change, and a form being filled keeps its own copy of the definition.
    """

    __tablename__ = "form_templates"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    title_ja: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    service: Mapped[Service] = relationship()


class ConfigVersion(Base):
    """One row whose token changes on every configuration write (see config_cache)."""

    __tablename__ = "config_version"
    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32))


CONFIG_MODELS: tuple[type[Base], ...] = (
    City,
    CityClosure,
    Department,
    DepartmentHours,
    Service,
    Staff,
    StaffHours,
    InterpreterLanguage,
    Interpreter,
    InterpreterHours,
)
_CONFIG_TABLES = frozenset(m.__table__.name for m in CONFIG_MODELS) | {  # type: ignore[attr-defined]
    "staff_skills",
    "staff_departments",
}


def bump_config(session: Session) -> None:
    token = secrets.token_hex(16)
    conn = session.connection()
    result = conn.execute(update(ConfigVersion).values(token=token))
    if result.rowcount == 0:
        conn.execute(insert(ConfigVersion).values(id=1, token=token))


# Read on every booking: built once (statement construction is most of its cost).
_CONFIG_TOKEN = select(ConfigVersion.token).where(ConfigVersion.id == 1)


def config_token(session: Session) -> str | None:
    return session.scalar(_CONFIG_TOKEN)


@event.listens_for(Session, "before_flush")
def _bump_on_config_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, CONFIG_MODELS) for obj in changed):
        bump_config(session)


@event.listens_for(Session, "do_orm_execute")
def _bump_on_bulk_statement(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    table = getattr(state.statement, "table", None)
    if table is not None and getattr(table, "name", None) in _CONFIG_TABLES:
        bump_config(state.session)
