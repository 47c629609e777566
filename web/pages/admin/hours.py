"""Admin pages for time: weekly hours, date overrides, staff leave, city closed days.

One page per department or staff member holds the three forms (weekly hours,
a date's exception, leave); each posts on its own and, on an error, the page
comes back with that form's values and messages.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from app.admin import fields as F
from app.admin.forms import Message, Windows, form_values, format_windows, parse, parse_windows
from app.admin.service import AdminInputError, AdminService
from app.auth.deps import CurrentAdmin
from app.core.deps import CtxDep, ReadSession, WriteSession
from app.core.i18n import gettext
from scheduler.models import Department, Staff
from web.pages.admin.support import (
    AdminPageRoute,
    FormDep,
    admin_page,
    checked_form,
    notice_of,
    owner_or_404,
    service_of,
)
from web.pages.staff.format import day_label, long_day_label, named, span
from web.templating import page_locale

router = APIRouter(route_class=AdminPageRoute, include_in_schema=False)

Kind = Literal["departments", "staff"]
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _owner(session: Session, kind: Kind, owner_id: int) -> Department | Staff | None:
    if kind == "departments":
        return session.get(Department, owner_id)
    return session.get(Staff, owner_id)


def _person(session: Session, staff_id: int) -> Staff | None:
    return session.get(Staff, staff_id)


# The department or staff member whose hours a page is about (else the 404 page).
Owner = Annotated[Department | Staff, Depends(owner_or_404(_owner, kind=Kind, owner_id=int))]
OwnerToChange = Annotated[
    Department | Staff, Depends(owner_or_404(_owner, write=True, kind=Kind, owner_id=int))
]
PersonToChange = Annotated[Staff, Depends(owner_or_404(_person, write=True, staff_id=int))]


def _owner_ids(kind: Kind, owner_id: int) -> dict[str, int | None]:
    if kind == "departments":
        return {"department_id": owner_id, "staff_id": None}
    return {"department_id": None, "staff_id": owner_id}


def _hours_page(
    request: Request,
    admin: Staff,
    svc: AdminService,
    kind: Kind,
    owner: Department | Staff,
    *,
    weekly: dict[str, str] | None = None,
    weekly_errors: dict[str, Message] | None = None,
    override: dict[str, Any] | None = None,
    override_errors: dict[str, Message] | None = None,
    leave: dict[str, Any] | None = None,
    leave_errors: dict[str, Message] | None = None,
    status_code: int = 200,
) -> Response:
    locale = page_locale(request)
    if weekly is None:
        by_day: dict[int, Windows] = {}
        for row in owner.hours:
            by_day.setdefault(row.weekday, []).append((row.start, row.end))
        weekly = {f"wd{n}": format_windows(by_day.get(n, [])) for n in range(7)}
    overrides = [
        {
            "iso": day.isoformat(),
            "label": long_day_label(day, locale),
            "hours": format_windows(windows) if windows else gettext(locale, "Closed all day"),
            "note": note,
        }
        for day, windows, note in svc.overrides(**_owner_ids(kind, owner.id))
    ]
    leave_rows = []
    if isinstance(owner, Staff):
        leave_rows = [
            {
                "id": lv.id,
                "label": f"{long_day_label(lv.start_at.astimezone(svc.tz).date(), locale)} "
                f"{span(lv.start_at, lv.end_at, svc.tz)}"
                + (
                    ""
                    if lv.start_at.astimezone(svc.tz).date() == lv.end_at.astimezone(svc.tz).date()
                    else f" ({day_label(lv.end_at.astimezone(svc.tz).date(), locale)})"
                ),
                "note": lv.note,
            }
            for lv in svc.leave(owner.id)
        ]
    name = named(owner, locale) if isinstance(owner, Department) else owner.display_name
    return admin_page(
        request,
        admin,
        "admin/hours.html",
        {
            "kind": kind,
            "owner": owner,
            "name": name,
            "base": f"/admin/{kind}/{owner.id}",
            "weekdays": [(f"wd{n}", WEEKDAY_NAMES[n]) for n in range(7)],
            "weekly": weekly,
            "weekly_errors": weekly_errors or {},
            "overrides": overrides,
            "override_fields": F.OVERRIDE,
            "override": override or {},
            "override_errors": override_errors or {},
            "leave_rows": leave_rows,
            "leave_fields": F.LEAVE,
            "leave": leave or {},
            "leave_errors": leave_errors or {},
            "notice": notice_of(request),
        },
        status_code=status_code,
    )


@router.get("/admin/{kind}/{owner_id}/hours")
def hours_page(
    kind: Kind,
    owner_id: int,
    request: Request,
    admin: CurrentAdmin,
    owner: Owner,
    session: ReadSession,
    ctx: CtxDep,
) -> Response:
    return _hours_page(request, admin, service_of(session, ctx), kind, owner)


@router.post("/admin/{kind}/{owner_id}/hours")
def save_hours(
    kind: Kind,
    owner_id: int,
    request: Request,
    admin: CurrentAdmin,
    owner: OwnerToChange,
    session: WriteSession,
    ctx: CtxDep,
    form: FormDep,
) -> Response:
    checked_form(request, admin, form)
    svc = service_of(session, ctx)
    raw = {f"wd{n}": str(form.get(f"wd{n}") or "") for n in range(7)}
    errors: dict[str, Message] = {}
    by_weekday: dict[int, Windows] = {}
    for n in range(7):
        windows, error = parse_windows(raw[f"wd{n}"])
        if error:
            errors[f"wd{n}"] = error
        by_weekday[n] = windows
    if errors:
        return _hours_page(
            request, admin, svc, kind, owner, weekly=raw, weekly_errors=errors, status_code=422
        )
    svc.set_weekly_hours(admin, owner, by_weekday)
    session.commit()
    return RedirectResponse(f"/admin/{kind}/{owner_id}/hours?done=saved", status_code=303)


@router.post("/admin/{kind}/{owner_id}/overrides")
def add_override(
    kind: Kind,
    owner_id: int,
    request: Request,
    admin: CurrentAdmin,
    owner: OwnerToChange,
    session: WriteSession,
    ctx: CtxDep,
    form: FormDep,
) -> Response:
    checked_form(request, admin, form)
    svc = service_of(session, ctx)
    parsed = parse(F.OVERRIDE, form)
    windows: Windows = []
    if "hours" not in parsed.errors:
        windows, error = parse_windows(parsed.values["hours"] or "")
        if error:
            parsed.errors["hours"] = error
    if not parsed.ok:
        return _hours_page(
            request, admin, svc, kind, owner,
            override=parsed.raw, override_errors=parsed.errors, status_code=422,
        )  # fmt: skip
    svc.set_override(
        admin, parsed.values["day"], windows, parsed.values["note"] or "",
        **_owner_ids(kind, owner_id),
    )  # fmt: skip
    session.commit()
    return RedirectResponse(f"/admin/{kind}/{owner_id}/hours?done=saved", status_code=303)


@router.post("/admin/{kind}/{owner_id}/overrides/{day}/delete")
def delete_override(
    kind: Kind,
    owner_id: int,
    day: date,
    request: Request,
    admin: CurrentAdmin,
    session: WriteSession,
    ctx: CtxDep,
    form: FormDep,
) -> Response:
    checked_form(request, admin, form)
    service_of(session, ctx).delete_override(admin, day, **_owner_ids(kind, owner_id))
    session.commit()
    return RedirectResponse(f"/admin/{kind}/{owner_id}/hours?done=deleted", status_code=303)


@router.post("/admin/staff/{staff_id}/leave")
def add_leave(
    staff_id: int,
    request: Request,
    admin: CurrentAdmin,
    person: PersonToChange,
    session: WriteSession,
    ctx: CtxDep,
    form: FormDep,
) -> Response:
    checked_form(request, admin, form)
    svc = service_of(session, ctx)
    parsed = parse(F.LEAVE, form)
    if parsed.ok:
        try:
            svc.add_leave(
                admin, staff_id, parsed.values["start"], parsed.values["end"],
                parsed.values["note"] or "",
            )  # fmt: skip
        except AdminInputError as exc:
            session.rollback()
            parsed.errors[exc.field] = exc.message
        else:
            session.commit()
            return RedirectResponse(f"/admin/staff/{staff_id}/hours?done=saved", status_code=303)
    return _hours_page(
        request, admin, svc, "staff", person,
        leave=parsed.raw, leave_errors=parsed.errors, status_code=422,
    )  # fmt: skip


@router.post("/admin/staff/{staff_id}/leave/{leave_id}/delete")
def delete_leave(
    staff_id: int,
    leave_id: int,
    request: Request,
    admin: CurrentAdmin,
    session: WriteSession,
    ctx: CtxDep,
    form: FormDep,
) -> Response:
    checked_form(request, admin, form)
    service_of(session, ctx).delete_leave(admin, staff_id, leave_id)
    session.commit()
    return RedirectResponse(f"/admin/staff/{staff_id}/hours?done=deleted", status_code=303)


# -- the city: name, holiday rules, closed days ------------------------------------------------


def _city_page(
    request: Request,
    admin: Staff,
    svc: AdminService,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, Message] | None = None,
    closure: dict[str, Any] | None = None,
    closure_errors: dict[str, Message] | None = None,
    status_code: int = 200,
) -> Response:
    locale = page_locale(request)
    return admin_page(
        request,
        admin,
        "admin/city.html",
        {
            "fields": F.CITY,
            "values": values if values is not None else form_values(F.CITY, svc.city()),
            "errors": errors or {},
            "closures": [
                {"iso": c.day.isoformat(), "label": long_day_label(c.day, locale), "note": c.note}
                for c in svc.closures()
            ],
            "closure_fields": F.CLOSURE,
            "closure": closure or {},
            "closure_errors": closure_errors or {},
            "notice": notice_of(request),
        },
        status_code=status_code,
    )


@router.get("/admin/city")
def city_page(request: Request, admin: CurrentAdmin, session: ReadSession, ctx: CtxDep) -> Response:
    return _city_page(request, admin, service_of(session, ctx))


@router.post("/admin/city")
def save_city(
    request: Request, admin: CurrentAdmin, session: WriteSession, ctx: CtxDep, form: FormDep
) -> Response:
    checked_form(request, admin, form)
    svc = service_of(session, ctx)
    parsed = parse(F.CITY, form)
    if not parsed.ok:
        return _city_page(
            request, admin, svc, values=parsed.raw, errors=parsed.errors, status_code=422
        )
    svc.save_city(admin, parsed.values)
    session.commit()
    return RedirectResponse("/admin/city?done=saved", status_code=303)


@router.post("/admin/city/closures")
def add_closure(
    request: Request, admin: CurrentAdmin, session: WriteSession, ctx: CtxDep, form: FormDep
) -> Response:
    checked_form(request, admin, form)
    svc = service_of(session, ctx)
    parsed = parse(F.CLOSURE, form)
    if not parsed.ok:
        return _city_page(
            request, admin, svc, closure=parsed.raw, closure_errors=parsed.errors,
            status_code=422,
        )  # fmt: skip
    svc.add_closure(admin, parsed.values["day"], parsed.values["note"] or "")
    session.commit()
    return RedirectResponse("/admin/city?done=saved", status_code=303)


@router.post("/admin/city/closures/{day}/delete")
def delete_closure(
    day: date,
    request: Request,
    admin: CurrentAdmin,
    session: WriteSession,
    ctx: CtxDep,
    form: FormDep,
) -> Response:
    checked_form(request, admin, form)
    service_of(session, ctx).delete_closure(admin, day)
    session.commit()
    return RedirectResponse("/admin/city?done=deleted", status_code=303)
