"""Admin area (administrators only): list and edit forms for the city's set-up.

Departments, services, staff, branches and kiosks share one list page and one
edit form, driven by an ``Entity`` description; hours, overrides, leave, the
city's closed days and the YAML import have pages of their own
(``web.pages.admin.hours``). Every form carries a CSRF token and shows its
errors next to the fields; each writing request commits once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from app.admin import fields as F
from app.admin.forms import Field, Message, Options, Parsed, form_values, parse
from app.admin.service import AdminInputError, AdminService, format_weekly_hours
from app.auth.deps import CurrentAdmin
from app.core.deps import CtxDep, ReadSession, WriteSession
from app.core.i18n import gettext
from app.core.passwords import hasher
from scheduler.models import (
    Branch,
    Department,
    Interpreter,
    InterpreterLanguage,
    Kiosk,
    Service,
    Staff,
)
from scheduler.types import Channel
from web.pages.admin.support import (
    AdminPageRoute,
    FormDep,
    admin_page,
    checked_form,
    notice_of,
    owner_or_404,
    service_of,
)
from web.pages.staff.format import named
from web.templating import page_locale

router = APIRouter(route_class=AdminPageRoute, include_in_schema=False)


# -- the entities with a list and an edit form ----------------------------------------------

Column = tuple[str, Callable[[Any, str], str]]  # header, cell


@dataclass(frozen=True)
class Entity:
    path: str  # /admin/<path>
    model: type[Any]
    title: str
    new_title: str
    fields_new: Sequence[Field]
    fields_edit: Sequence[Field]
    columns: Sequence[Column]
    rows: Callable[[AdminService], Sequence[Any]]
    options: Callable[[AdminService, str], dict[str, Options]]
    save: Callable[[AdminService, Staff, Any, dict[str, Any]], Any]
    defaults: dict[str, Any]
    # Links on the edit page (hours, overrides …), as (label, path suffix).
    extras: Sequence[tuple[str, str]] = ()
    # The edit form's values of a row (the city's time zone for instants).
    values_of: Callable[[Any, ZoneInfo], dict[str, Any]] | None = None
    # Interpreter languages are keyed by their code, every other row by an int id.
    str_key: bool = False

    def key_of(self, row: Any) -> str:
        return str(row.code if self.str_key else row.id)

    def parse_key(self, text: str) -> int | str | None:
        if self.str_key:
            return text
        return int(text) if text.isdigit() else None

    def find(self, session: Session, row_id: str) -> Any:
        """The row at ``/admin/<path>/<row_id>``, or None."""
        key = self.parse_key(row_id)
        return session.get(self.model, key) if key is not None else None


def _yes(value: bool, locale: str) -> str:
    return gettext(locale, "Yes" if value else "No")


def _no_options(svc: AdminService, locale: str) -> dict[str, Options]:
    return {}


def _service_options(svc: AdminService, locale: str) -> dict[str, Options]:
    return {
        "department_id": [(str(d.id), named(d, locale)) for d in svc.departments()],
        "channels": [
            (Channel.ONLINE.value, gettext(locale, "Online consultation (from home)")),
            (Channel.KIOSK.value, gettext(locale, "Remote counter (kiosk at a branch)")),
        ],
    }


def _staff_options(svc: AdminService, locale: str) -> dict[str, Options]:
    return {
        "departments": [(str(d.id), named(d, locale)) for d in svc.departments()],
        "skills": [
            (str(s.id), f"{named(s.department, locale)} / {named(s, locale)}")
            for s in svc.services()
        ],
    }


def _kiosk_options(svc: AdminService, locale: str) -> dict[str, Options]:
    return {"branch_id": [(str(b.id), named(b, locale)) for b in svc.branches()]}


def _service_values(service: Service, tz: ZoneInfo) -> dict[str, Any]:
    values = form_values(F.SERVICE, service)
    values["channels"] = [c for c in service.channels.split(",") if c]
    if service.rush_opens_at is not None:
        # A datetime-local input: the city's wall-clock time, no offset.
        values["rush_opens_at"] = service.rush_opens_at.astimezone(tz).strftime("%Y-%m-%dT%H:%M")
    return values


def _staff_values(person: Staff, _tz: ZoneInfo) -> dict[str, Any]:
    values = form_values(F.STAFF_EDIT, person)
    values["departments"] = [str(d.id) for d in person.departments]
    values["skills"] = [str(s.id) for s in person.skills]
    return values


def _interpreter_options(svc: AdminService, locale: str) -> dict[str, Options]:
    return {
        "languages": [
            (row.code, f"{named(row, locale)} ({row.label})") for row in svc.interpreter_languages()
        ],
        "locale": [("ja", gettext(locale, "Japanese")), ("en", gettext(locale, "English"))],
    }


def _interpreter_values(person: Interpreter, _tz: ZoneInfo) -> dict[str, Any]:
    values = form_values(F.INTERPRETER, person)
    values["languages"] = person.language_codes
    values["weekly_hours"] = format_weekly_hours(person.hours)
    return values


def _kiosk_values(kiosk: Kiosk, _tz: ZoneInfo) -> dict[str, Any]:
    values = form_values(F.KIOSK, kiosk)
    values["branch_id"] = str(kiosk.branch_id)
    return values


ENTITIES: tuple[Entity, ...] = (
    Entity(
        path="departments",
        model=Department,
        title="Departments",
        new_title="New department",
        fields_new=F.DEPARTMENT,
        fields_edit=F.DEPARTMENT,
        columns=(
            ("Name", lambda d, loc: named(d, loc)),
            ("Slug", lambda d, loc: d.slug),
            ("Services", lambda d, loc: str(len(d.services))),
        ),
        rows=lambda svc: svc.departments(),
        options=_no_options,
        save=lambda svc, admin, obj, values: svc.save_department(admin, obj, values),
        defaults={"sort_order": "0"},
        extras=(("Opening hours and exceptions", "hours"),),
    ),
    Entity(
        path="services",
        model=Service,
        title="Services",
        new_title="New service",
        fields_new=F.SERVICE,
        fields_edit=F.SERVICE,
        columns=(
            ("Name", lambda s, loc: named(s, loc)),
            ("Department", lambda s, loc: named(s.department, loc)),
            ("Duration (minutes)", lambda s, loc: str(s.duration_min)),
            ("Channels", lambda s, loc: s.channels),
            ("Offered (active)", lambda s, loc: _yes(s.active, loc)),
            ("Opening-day rush", lambda s, loc: _yes(s.rush, loc)),
        ),
        rows=lambda svc: svc.services(),
        options=_service_options,
        save=lambda svc, admin, obj, values: svc.save_service(admin, obj, values),
        defaults={
            "duration_min": "30",
            "buffer_before_min": "0",
            "buffer_after_min": "10",
            "channels": ["online"],
            "min_notice_min": "120",
            "horizon_days": "60",
            "change_cutoff_min": "120",
            "active": True,
            "sort_order": "0",
        },
        values_of=_service_values,
    ),
    Entity(
        path="staff",
        model=Staff,
        title="Staff",
        new_title="New staff member",
        fields_new=F.STAFF_NEW,
        fields_edit=F.STAFF_EDIT,
        columns=(
            ("Display name", lambda p, loc: p.display_name),
            ("Login ID", lambda p, loc: p.login),
            ("Departments", lambda p, loc: "、".join(named(d, loc) for d in p.departments)),
            ("Skills", lambda p, loc: str(len(p.skills))),
            ("Administrator", lambda p, loc: _yes(p.is_admin, loc)),
            ("Active", lambda p, loc: _yes(p.active, loc)),
        ),
        rows=lambda svc: svc.staff(),
        options=_staff_options,
        save=lambda svc, admin, obj, values: svc.save_staff(admin, obj, values, hasher),
        defaults={"active": True, "departments": [], "skills": []},
        extras=(("Working hours, exceptions and leave", "hours"),),
        values_of=_staff_values,
    ),
    Entity(
        path="branches",
        model=Branch,
        title="Branches",
        new_title="New branch",
        fields_new=F.BRANCH,
        fields_edit=F.BRANCH,
        columns=(
            ("Name", lambda b, loc: named(b, loc)),
            ("Slug", lambda b, loc: b.slug),
            ("Kiosks", lambda b, loc: "、".join(k.name for k in b.kiosks)),
        ),
        rows=lambda svc: svc.branches(),
        options=_no_options,
        save=lambda svc, admin, obj, values: svc.save_branch(admin, obj, values),
        defaults={},
    ),
    Entity(
        path="kiosks",
        model=Kiosk,
        title="Kiosks",
        new_title="New kiosk",
        fields_new=F.KIOSK,
        fields_edit=F.KIOSK,
        columns=(
            ("Name", lambda k, loc: k.name),
            ("Slug", lambda k, loc: k.slug),
            ("Branch", lambda k, loc: named(k.branch, loc)),
            ("Active", lambda k, loc: _yes(k.active, loc)),
        ),
        rows=lambda svc: [k for b in svc.branches() for k in b.kiosks],
        options=_kiosk_options,
        save=lambda svc, admin, obj, values: svc.save_kiosk(admin, obj, values),
        defaults={"active": True},
        # A freshly signed kiosk link (web.pages.kiosk.screen.admin_open).
        extras=(("Open the kiosk screen", "open"),),
        values_of=_kiosk_values,
    ),
    Entity(
        path="interpreter-languages",
        model=InterpreterLanguage,
        title="Interpreter languages",
        new_title="New interpreter language",
        fields_new=F.INTERPRETER_LANGUAGE_NEW,
        fields_edit=F.INTERPRETER_LANGUAGE_EDIT,
        columns=(
            ("Name", lambda r, loc: named(r, loc)),
            ("Name in the language itself", lambda r, loc: r.name_native),
            ("Language code", lambda r, loc: r.code),
            ("Offered (active)", lambda r, loc: _yes(r.active, loc)),
        ),
        rows=lambda svc: svc.interpreter_languages(),
        options=_no_options,
        save=lambda svc, admin, obj, values: svc.save_interpreter_language(admin, obj, values),
        defaults={"sort_order": "0", "active": True},
        str_key=True,
    ),
    Entity(
        path="interpreters",
        model=Interpreter,
        title="Interpreters",
        new_title="New interpreter",
        fields_new=F.INTERPRETER,
        fields_edit=F.INTERPRETER,
        columns=(
            ("Name", lambda p, loc: p.name),
            ("Interpreting languages", lambda p, loc: ", ".join(p.language_codes)),
            ("Weekly hours", lambda p, loc: format_weekly_hours(p.hours).replace("\n", " / ")),
            ("Active", lambda p, loc: _yes(p.active, loc)),
        ),
        rows=lambda svc: svc.interpreters(),
        options=_interpreter_options,
        save=lambda svc, admin, obj, values: svc.save_interpreter(admin, obj, values),
        defaults={"active": True, "locale": "ja", "languages": []},
        values_of=_interpreter_values,
    ),
)


@router.get("/admin")
def admin_index(
    request: Request, admin: CurrentAdmin, session: ReadSession, ctx: CtxDep
) -> Response:
    svc = service_of(session, ctx)
    return admin_page(
        request,
        admin,
        "admin/index.html",
        {"counts": svc.counts(), "entities": ENTITIES, "notice": notice_of(request)},
    )


def _form_page(
    request: Request,
    admin: Staff,
    entity: Entity,
    svc: AdminService,
    *,
    row: Any,
    values: dict[str, Any],
    errors: dict[str, Message] | None = None,
    status_code: int = 200,
) -> Response:
    locale = page_locale(request)
    if row is None:
        heading = gettext(locale, entity.new_title)
        action = f"/admin/{entity.path}/new"
    else:
        label = (
            named(row, locale)
            if hasattr(row, "name_ja")
            else str(getattr(row, "display_name", None) or getattr(row, "name", ""))
        )
        heading = label
        action = f"/admin/{entity.path}/{entity.key_of(row)}"
    return admin_page(
        request,
        admin,
        "admin/form.html",
        {
            "entity": entity,
            "heading": heading,
            "action": action,
            "fields": entity.fields_new if row is None else entity.fields_edit,
            "values": values,
            "errors": errors or {},
            "options": entity.options(svc, locale),
            "row": row,
            "row_key": entity.key_of(row) if row is not None else None,
            "notice": notice_of(request),
        },
        status_code=status_code,
    )


def _register(entity: Entity) -> None:
    base = f"/admin/{entity.path}"
    # Defaults, not ``Annotated`` aliases: postponed annotations cannot name a
    # dependency made here for this entity.
    row_to_show = Depends(owner_or_404(entity.find, row_id=str))
    row_to_change = Depends(owner_or_404(entity.find, write=True, row_id=str))

    def list_page(
        request: Request, admin: CurrentAdmin, session: ReadSession, ctx: CtxDep
    ) -> Response:
        locale = page_locale(request)
        svc = service_of(session, ctx)
        rows = [
            (entity.key_of(row), [cell(row, locale) for _, cell in entity.columns])
            for row in entity.rows(svc)
        ]
        return admin_page(
            request,
            admin,
            "admin/list.html",
            {"entity": entity, "rows": rows, "notice": notice_of(request)},
        )

    def new_page(
        request: Request, admin: CurrentAdmin, session: ReadSession, ctx: CtxDep
    ) -> Response:
        svc = service_of(session, ctx)
        return _form_page(request, admin, entity, svc, row=None, values=dict(entity.defaults))

    def edit_page(
        request: Request,
        admin: CurrentAdmin,
        session: ReadSession,
        ctx: CtxDep,
        row: Any = row_to_show,
    ) -> Response:
        svc = service_of(session, ctx)
        values = (
            entity.values_of(row, ctx.tz)
            if entity.values_of
            else form_values(entity.fields_edit, row)
        )
        return _form_page(request, admin, entity, svc, row=row, values=values)

    def save(
        request: Request,
        admin: CurrentAdmin,
        session: WriteSession,
        ctx: CtxDep,
        form: FormDep,
        row: Any = None,
    ) -> Response:
        checked_form(request, admin, form)
        svc = service_of(session, ctx)
        fields = entity.fields_new if row is None else entity.fields_edit
        locale = page_locale(request)
        parsed: Parsed = parse(fields, form, entity.options(svc, locale))
        if parsed.ok:
            try:
                saved = entity.save(svc, admin, row, parsed.values)
            except AdminInputError as exc:
                session.rollback()
                parsed.errors[exc.field] = exc.message
            else:
                session.commit()
                return RedirectResponse(
                    f"{base}/{entity.key_of(saved)}?done=saved", status_code=303
                )
        return _form_page(
            request, admin, entity, svc, row=row, values=parsed.raw, errors=parsed.errors,
            status_code=422,
        )  # fmt: skip

    def create(
        request: Request, admin: CurrentAdmin, session: WriteSession, ctx: CtxDep, form: FormDep
    ) -> Response:
        return save(request, admin, session, ctx, form)

    def update(
        request: Request,
        admin: CurrentAdmin,
        session: WriteSession,
        ctx: CtxDep,
        form: FormDep,
        row: Any = row_to_change,
    ) -> Response:
        return save(request, admin, session, ctx, form, row)

    router.add_api_route(base, list_page, methods=["GET"])
    router.add_api_route(f"{base}/new", new_page, methods=["GET"])
    router.add_api_route(f"{base}/new", create, methods=["POST"])
    router.add_api_route(base + "/{row_id}", edit_page, methods=["GET"])
    router.add_api_route(base + "/{row_id}", update, methods=["POST"])


for _entity in ENTITIES:
    _register(_entity)


@router.post("/admin/staff/{row_id}/sessions/revoke")
def sign_out_everywhere(
    row_id: int,
    request: Request,
    admin: CurrentAdmin,
    session: WriteSession,
    ctx: CtxDep,
    form: FormDep,
) -> Response:
    """End every login session of a staff member: their cookies stop working at once."""
    checked_form(request, admin, form)
    svc = service_of(session, ctx)
    person = svc.get(Staff, row_id)
    if person is None:
        return admin_page(request, admin, "admin/not_found.html", {}, status_code=404)
    svc.sign_out_everywhere(admin, person)
    session.commit()
    return RedirectResponse(f"/admin/staff/{row_id}?done=signed-out", status_code=303)
