"""The audit log for administrators: the latest entries, filters and a CSV export.

Reading or exporting the log is itself written to the log.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import Select, select

from app.auth.deps import CurrentAdmin
from app.core.deps import CtxDep, WriteSession
from app.tracker.audit import actor_of, audit
from app.tracker.models import AuditEntry
from web.pages.staff.auth import StaffPageRoute, console_page

router = APIRouter(route_class=StaffPageRoute, include_in_schema=False)

SHOWN = 500


def _query(
    staff_id: str | None, object_type: str | None, day: str | None, tz: Any
) -> Select[AuditEntry]:
    stmt = select(AuditEntry)
    if staff_id and staff_id.isdigit():
        stmt = stmt.where(AuditEntry.staff_id == int(staff_id))
    if object_type:
        stmt = stmt.where(AuditEntry.object_type == object_type[:30])
    if day:
        try:
            start = datetime.combine(date.fromisoformat(day), time(), tz)
        except ValueError:
            start = None
        if start is not None:
            stmt = stmt.where(AuditEntry.at >= start, AuditEntry.at < start + timedelta(days=1))
    return stmt.order_by(AuditEntry.id.desc())


@router.get("/admin/audit")
def audit_page(
    request: Request,
    admin: CurrentAdmin,
    session: WriteSession,
    ctx: CtxDep,
    staff_id: str | None = None,
    object_type: str | None = None,
    day: str | None = None,
) -> Response:
    entries = list(session.scalars(_query(staff_id, object_type, day, ctx.tz).limit(SHOWN)))
    audit(session, actor_of(request, admin), "read", "audit-log", "-", ctx.clock.now())
    session.commit()
    query = request.url.query
    return console_page(
        request,
        "admin/audit.html",
        admin,
        "admin",
        {
            "entries": [
                (e, e.at.astimezone(ctx.tz).strftime("%Y-%m-%d %H:%M:%S")) for e in entries
            ],
            "filters": {
                "staff_id": staff_id or "",
                "object_type": object_type or "",
                "day": day or "",
            },
            "csv_href": "/admin/audit.csv" + (f"?{query}" if query else ""),
        },
    )


@router.get("/admin/audit.csv")
def audit_csv(
    request: Request,
    admin: CurrentAdmin,
    session: WriteSession,
    ctx: CtxDep,
    staff_id: str | None = None,
    object_type: str | None = None,
    day: str | None = None,
) -> Response:
    out = io.StringIO(newline="")
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(("id", "at", "staff_id", "action", "object_type", "object_id", "ip", "detail"))
    for e in session.scalars(_query(staff_id, object_type, day, ctx.tz)):
        writer.writerow(
            (
                e.id,
                e.at.astimezone(ctx.tz).isoformat(),
                e.staff_id if e.staff_id is not None else "",
                e.action,
                e.object_type,
                e.object_id,
                e.ip or "",
                e.detail,
            )
        )
    audit(session, actor_of(request, admin), "export", "audit-log", "-", ctx.clock.now())
    session.commit()
    return Response(
        out.getvalue().encode("utf-8-sig"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )
