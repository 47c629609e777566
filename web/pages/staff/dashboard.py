"""The dashboard page: a department or the whole city, for a chosen date range."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from app.auth.deps import CurrentScope, CurrentStaff
from app.auth.errors import Forbidden
from app.core.context import AppContext
from app.core.deps import CtxDep, WriteSession
from app.core.i18n import gettext
from app.tracker import ratings
from app.tracker.audit import actor_of, audit
from app.tracker.dashboard import Dashboard, build_dashboard
from app.tracker.wrapup import recent_records
from scheduler.models import Department
from web.charts import bar_chart
from web.pages.staff.auth import StaffPageRoute, console_page
from web.pages.staff.records import summary
from web.templating import page_locale

router = APIRouter(route_class=StaffPageRoute, include_in_schema=False)

DEFAULT_DAYS = 30
RECENT_ON_DASHBOARD = 10
MAX_DAYS = 366


def _date(value: str | None, default: date) -> date:
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        return default


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f}"


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.1f}%"


def _charts(d: Dashboard, locale: str) -> dict[str, Any]:
    def _(m: str) -> str:
        return gettext(locale, m)

    days = [day.strftime("%m/%d") for day, _b, _w in d.calls_per_day]
    return {
        "calls": bar_chart(
            _("Calls per day"),
            days,
            [
                (_("Booked calls"), [b for _d, b, _w in d.calls_per_day]),
                (_("Walk-in"), [w for _d, _b, w in d.calls_per_day]),
            ],
        ),
        "kiosks": bar_chart(
            _("Kiosk calls per branch"),
            [name for name, _n in d.kiosk_by_branch],
            [(_("Calls"), [n for _name, n in d.kiosk_by_branch])],
        ),
        "wait": bar_chart(
            _("Waiting time (minutes)"),
            [_("Median"), _("90th percentile"), _("Median talk time")],
            [
                (
                    _("Minutes"),
                    [round((v or 0) / 60, 1) for v in (d.wait_median, d.wait_p90, d.talk_median)],
                )
            ],
        ),
    }


def _range(
    ctx: AppContext, first: str | None, last: str | None, department_id: str | None
) -> tuple[date, date, int | None]:
    today = ctx.clock.now().astimezone(ctx.tz).date()
    end = _date(last, today)
    start = _date(first, end - timedelta(days=DEFAULT_DAYS - 1))
    if start > end or (end - start).days >= MAX_DAYS:
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    dept = int(department_id) if department_id and department_id.isdigit() else None
    return start, end, dept


@router.get("/staff/dashboard")
def dashboard_page(
    request: Request,
    staff: CurrentStaff,
    scope: CurrentScope,
    session: WriteSession,
    ctx: CtxDep,
    first: str | None = None,
    last: str | None = None,
    department_id: str | None = None,
) -> Response:
    start, end, dept = _range(ctx, first, last, department_id)
    if dept is not None:
        # City-wide figures are counts only; one department's are its staff's.
        scope.require_department(dept)
    d = build_dashboard(session, start, end, ctx.tz, dept)
    locale = page_locale(request)
    recent = [
        summary(session, ctx, r, locale)
        for r in recent_records(session, staff, limit=RECENT_ON_DASHBOARD)
    ]
    audit(session, actor_of(request, staff), "read", "dashboard", dept or "city", ctx.clock.now())
    session.commit()
    return console_page(
        request,
        "staff/dashboard.html",
        staff,
        "dashboard",
        {
            "d": d,
            "first": start.isoformat(),
            "last": end.isoformat(),
            "department_id": dept,
            "departments": session.scalars(
                select(Department)
                .where(scope.department_clause(Department.id))
                .order_by(Department.sort_order)
            ),
            "charts": _charts(d, page_locale(request)),
            "ratings": ratings.monthly(session, start, end, ctx.tz, page_locale(request), dept),
            "export_href": "/staff/dashboard/records.csv?"
            + urlencode(
                {"first": start.isoformat(), "last": end.isoformat(), "department_id": dept or ""}
            ),
            "recent": recent,
            "figures": {
                "wait_median": _minutes(d.wait_median),
                "wait_p90": _minutes(d.wait_p90),
                "talk_median": _minutes(d.talk_median),
                "no_show_rate": _percent(d.no_show_rate),
                "outside_share": _percent(d.outside_hours_share),
            },
        },
    )


@router.get("/staff/dashboard/records.csv")
def records_csv(
    request: Request,
    staff: CurrentStaff,
    scope: CurrentScope,
    session: WriteSession,
    ctx: CtxDep,
    first: str | None = None,
    last: str | None = None,
    department_id: str | None = None,
) -> Response:
    """The session records of the range with their ratings, for a spreadsheet.

    Rows are records of single calls: staff export their own department's,
    the whole city's is for administrators.
    """
    start, end, dept = _range(ctx, first, last, department_id)
    if dept is None and not scope.is_admin:
        raise Forbidden
    scope.require_department(dept)
    rows = ratings.export_rows(session, start, end, ctx.tz, dept)
    audit(
        session,
        actor_of(request, staff),
        "export",
        "session_records",
        dept or "city",
        ctx.clock.now(),
        f"{start}..{end}: {len(rows)} records",
    )
    session.commit()
    return Response(
        ratings.records_csv(rows, ctx.tz),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="session-records-{start}-{end}.csv"',
            "Cache-Control": "no-store",
        },
    )
