"""Reading applications for staff: filtered lists, search and CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, or_, select, text
from sqlalchemy.orm import Session, selectinload

from app.auth.scope import StaffScope
from app.tracker.models import Application
from app.tracker.workflow import FINAL, ApplicationStatus

PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class ApplicationFilter:
    status: ApplicationStatus | None = None
    department_id: int | None = None
    assignee_id: int | None = None
    overdue: bool = False
    created_from: date | None = None  # city dates, inclusive
    created_to: date | None = None
    q: str = ""  # substring of reference, resident name or notes


def _like_pattern(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _city_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tz).astimezone(UTC)


def is_overdue(app: Application, today: date) -> bool:
    return (
        app.due_date is not None
        and app.due_date < today
        and ApplicationStatus(app.status) not in FINAL
    )


def filtered(
    f: ApplicationFilter, scope: StaffScope, today: date, tz: ZoneInfo
) -> Select[Application]:
    stmt = select(Application).where(scope.department_clause(Application.department_id))
    if f.status is not None:
        stmt = stmt.where(Application.status == f.status.value)
    if f.department_id is not None:
        stmt = stmt.where(Application.department_id == f.department_id)
    if f.assignee_id is not None:
        stmt = stmt.where(Application.assignee_id == f.assignee_id)
    if f.overdue:
        stmt = stmt.where(
            Application.due_date < today,
            Application.status.not_in([s.value for s in FINAL]),
        )
    if f.created_from is not None:
        stmt = stmt.where(Application.created_at >= _city_midnight(f.created_from, tz))
    if f.created_to is not None:
        stmt = stmt.where(
            Application.created_at < _city_midnight(f.created_to + timedelta(days=1), tz)
        )
    q = f.q.strip()
    if q:
        # ILIKE uses the pg_trgm GIN indexes on PostgreSQL; LIKE on SQLite.
        pattern = _like_pattern(q)
        stmt = stmt.where(
            or_(
                Application.reference.ilike(pattern, escape="\\"),
                Application.resident_name.ilike(pattern, escape="\\"),
                Application.notes.ilike(pattern, escape="\\"),
            )
        )
    return stmt


def list_applications(
    session: Session,
    f: ApplicationFilter,
    scope: StaffScope,
    today: date,
    tz: ZoneInfo,
    *,
    limit: int = PAGE_SIZE,
    offset: int = 0,
) -> tuple[list[Application], int]:
    """One page, newest first, and the total count of matches within ``scope``."""
    if session.get_bind().dialect.name == "postgresql":
        # JIT compilation costs more than it saves on these short queries.
        session.execute(text("SET LOCAL jit = off"))
    stmt = filtered(f, scope, today, tz)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = session.scalars(
        stmt.options(selectinload(Application.department), selectinload(Application.assignee))
        .order_by(Application.created_at.desc(), Application.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total


CSV_HEADER = (
    "受付番号 reference",
    "手続き procedure",
    "氏名 resident",
    "状況 status",
    "課 department",
    "担当 assignee",
    "期限 due",
    "受付日時 created",
    "メモ notes",
    "様式 forms",
)


def csv_bytes(
    apps: Iterable[Application], tz: ZoneInfo, forms: Mapping[int, str] | None = None
) -> bytes:
    """UTF-8 with BOM and CRLF, every field quoted: opens as Japanese text in Excel.

    ``forms``: each application's signed forms as JSON (``app.forms.export``).
    """
    out = io.StringIO(newline="")
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for app in apps:
        writer.writerow((*_csv_row(app, tz), _cell((forms or {}).get(app.id, ""))))
    return out.getvalue().encode("utf-8-sig")


def _cell(value: str) -> str:
    # A leading = + - @ would run as a formula in Excel (CSV injection).
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _csv_row(app: Application, tz: ZoneInfo) -> Sequence[str]:
    return tuple(
        _cell(v)
        for v in (
            app.reference,
            app.procedure,
            app.resident_name,
            app.status,
            app.department.name_ja,
            app.assignee.display_name if app.assignee else "",
            app.due_date.isoformat() if app.due_date else "",
            app.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            app.notes,
        )
    )
