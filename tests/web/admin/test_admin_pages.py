"""Admin area: only for administrators; list and edit forms with CSRF and field errors."""

from __future__ import annotations

import re
from typing import Any

import pytest
from admin_page_helpers import csrf_of, login
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests_app_helpers import slot_starts  # type: ignore[import-not-found]

from app.admin.forms import parse_windows
from app.core.context import AppContext
from scheduler.models import (
    CityClosure,
    Department,
    HoursOverride,
    Kiosk,
    Service,
    Staff,
    StaffHours,
    StaffLeave,
)

DAY = "2026-12-01"  # Tuesday
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def post_form(client: TestClient, page: str, action: str, data: dict[str, Any]) -> Any:
    """Open ``page`` for its CSRF token, then post ``data`` to ``action``."""
    token = csrf_of(client.get(page).text)
    return client.post(action, data={**data, "csrf_token": token}, follow_redirects=False)


def error_of(html: str, field_id: str) -> str:
    match = re.search(rf'<p class="error-text" id="{re.escape(field_id)}-error">([^<]*)</p>', html)
    assert match, f"no error shown for {field_id}"
    return match.group(1)


SERVICE = {
    "department_id": "",  # the city's department, set by service_form
    "slug": "kokuho",
    "name_ja": "国民健康保険の相談",
    "name_en": "National Health Insurance",
    "description_ja": "保険証をご用意ください。",
    "description_en": "",
    "duration_min": "20",
    "buffer_before_min": "0",
    "buffer_after_min": "10",
    "slot_step_min": "",
    "channels": ["online", "kiosk"],
    "min_notice_min": "60",
    "horizon_days": "30",
    "daily_cap": "",
    "change_cutoff_min": "60",
    "active": "1",
    "sort_order": "5",
}


def service_form(city: Any, **changes: Any) -> dict[str, Any]:
    return {**SERVICE, "department_id": str(city.dept_id), **changes}


def test_admin_pages_need_a_login_and_the_admin_role(client: TestClient, city) -> None:
    r = client.get("/admin/services", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/staff/login?next=/admin/services"
    login(client, "staff0")
    for path in ("/admin", "/admin/services", "/admin/staff/1", "/admin/city", "/admin/import"):
        r = client.get(path)
        assert r.status_code == 403, path
        assert "このページは管理者用です" in r.text
    r = client.post("/admin/services/new", data=service_form(city))
    assert r.status_code == 403
    # The console shows no admin link to non-admins.
    assert 'href="/admin"' not in client.get("/staff").text


def test_admin_index_lists_every_section(client: TestClient, city) -> None:
    login(client)
    html = client.get("/admin").text
    for path in ("departments", "services", "staff", "branches", "kiosks", "city", "import"):
        assert f'href="/admin/{path}"' in html
    assert 'aria-current="page"' in html and "管理" in html


def test_create_and_edit_a_service(client: TestClient, city, ctx: AppContext) -> None:
    login(client)
    # Invalid input: every problem is shown next to its field, nothing is saved.
    bad = service_form(city, name_ja="", duration_min="abc", channels=[], slug="Bad Slug")
    r = post_form(client, "/admin/services/new", "/admin/services/new", bad)
    assert r.status_code == 422
    assert error_of(r.text, "name_ja") == "入力してください。"
    assert error_of(r.text, "duration_min") == "30 のような整数で入力してください。"
    assert "少なくとも1つ選んでください。" in error_of(r.text, "channels")
    assert "英小文字" in error_of(r.text, "slug")
    assert 'aria-invalid="true"' in r.text and 'id="error-summary"' in r.text
    assert 'value="Bad Slug"' in r.text  # what was typed comes back
    with Session(ctx.engine) as s:
        assert s.scalar(select(Service).where(Service.slug == "kokuho")) is None
    # Valid input creates it.
    r = post_form(client, "/admin/services/new", "/admin/services/new", service_form(city))
    assert r.status_code == 303
    location = r.headers["location"]
    assert re.fullmatch(r"/admin/services/\d+\?done=saved", location)
    page = client.get(location).text
    assert "保存しました。" in page and 'value="国民健康保険の相談"' in page
    with Session(ctx.engine) as s:
        service = s.scalar(select(Service).where(Service.slug == "kokuho"))
        assert service is not None
        assert (service.duration_min, service.channels, service.daily_cap) == (
            20,
            "online,kiosk",
            None,
        )
        assert service.slot_step_min is None and service.active
        service_id = service.id
    # Edit: the duplicate slug is refused at its field, then a real change is saved.
    edit = f"/admin/services/{service_id}"
    r = post_form(client, edit, edit, service_form(city, slug="tennyu"))
    assert r.status_code == 422 and "すでに使われています" in error_of(r.text, "slug")
    r = post_form(client, edit, edit, service_form(city, duration_min="45", daily_cap="4"))
    assert r.status_code == 303
    with Session(ctx.engine) as s:
        service = s.get(Service, service_id)
        assert service is not None and (service.duration_min, service.daily_cap) == (45, 4)
    listing = client.get("/admin/services").text
    assert "国民健康保険の相談" in listing and '<th scope="col">' in listing


def test_create_a_staff_member_with_a_hashed_password(
    client: TestClient, city, ctx: AppContext
) -> None:
    login(client)
    person = {
        "login": "suzuki",
        "display_name": "鈴木 一郎",
        "email": "suzuki@city.example.jp",
        "password": "short",
        "departments": [str(city.dept_id)],
        "skills": [str(city.consult_id)],
        "active": "1",
    }
    r = post_form(client, "/admin/staff/new", "/admin/staff/new", person)
    assert r.status_code == 422 and "10文字以上" in error_of(r.text, "password")
    assert "short" not in r.text  # a password is never sent back
    person["password"] = "correct horse battery"
    r = post_form(client, "/admin/staff/new", "/admin/staff/new", person)
    assert r.status_code == 303
    with Session(ctx.engine) as s:
        staff = s.scalar(select(Staff).where(Staff.login == "suzuki"))
        assert staff is not None and staff.password_hash is not None
        assert staff.password_hash.startswith("$argon2id$")
        assert PasswordHasher().verify(staff.password_hash, "correct horse battery")
        assert [d.id for d in staff.departments] == [city.dept_id]
        assert [sv.id for sv in staff.skills] == [city.consult_id]
        assert not staff.is_admin and staff.active
    # The new person can log in with it.
    with TestClient(client.app) as other:
        login(other, "suzuki", "correct horse battery")
        assert other.get("/staff").status_code == 200


def test_an_admin_cannot_lock_themself_out(client: TestClient, city, ctx: AppContext) -> None:
    login(client)
    page = f"/admin/staff/{city.admin_id}"
    data = {"login": "admin", "display_name": "管理者", "active": "1"}  # is_admin unticked
    r = post_form(client, page, page, data)
    assert r.status_code == 422
    assert "自分自身の管理者権限" in error_of(r.text, "is_admin")
    with Session(ctx.engine) as s:
        admin = s.get(Staff, city.admin_id)
        assert admin is not None and admin.is_admin


def test_weekly_hours_and_leave_of_a_staff_member(
    client: TestClient, city, ctx: AppContext
) -> None:
    login(client)
    staff_id = city.staff_ids[2]
    page = f"/admin/staff/{staff_id}/hours"
    assert 'value="08:30-12:00, 13:00-17:15"' in client.get(page).text
    hours = {f"wd{n}": "" for n in range(7)}
    r = post_form(client, page, f"{page}", {**hours, "wd0": "9:00-12:00", "wd2": "13:00-12:00"})
    assert r.status_code == 422 and "終了は開始より後" in error_of(r.text, "wd2")
    r = post_form(
        client, page, page, {**hours, "wd0": "9:00-12:00、13:00-15:00", "wd5": "09:00-11:00"}
    )
    assert r.status_code == 303
    with Session(ctx.engine) as s:
        rows = s.scalars(
            select(StaffHours).where(StaffHours.staff_id == staff_id).order_by(StaffHours.id)
        ).all()
        assert [(h.weekday, h.start.hour, h.end.hour) for h in rows] == [
            (0, 9, 12),
            (0, 13, 15),
            (5, 9, 11),
        ]
    r = post_form(
        client, page, f"/admin/staff/{staff_id}/leave",
        {"start": "2026-12-03T13:00", "end": "2026-12-03T09:00", "note": ""},
    )  # fmt: skip
    assert r.status_code == 422 and "終了は開始より後" in error_of(r.text, "lv-end")
    r = post_form(
        client, page, f"/admin/staff/{staff_id}/leave",
        {"start": "2026-12-03T13:00", "end": "2026-12-03T17:15", "note": "研修"},
    )  # fmt: skip
    assert r.status_code == 303
    with Session(ctx.engine) as s:
        leave = s.scalars(select(StaffLeave).where(StaffLeave.staff_id == staff_id)).one()
        assert leave.start_at.isoformat() == "2026-12-03T04:00:00+00:00"
        leave_id = leave.id
    assert "研修" in client.get(page).text
    r = post_form(client, page, f"/admin/staff/{staff_id}/leave/{leave_id}/delete", {})
    assert r.status_code == 303
    with Session(ctx.engine) as s:
        assert s.get(StaffLeave, leave_id) is None


def test_an_override_closing_a_day_removes_its_slots(
    client: TestClient, city, ctx: AppContext
) -> None:
    assert slot_starts(client, city.consult_id, DAY)
    login(client)
    page = f"/admin/departments/{city.dept_id}/hours"
    r = post_form(
        client, page, f"/admin/departments/{city.dept_id}/overrides",
        {"day": DAY, "hours": "", "note": "庁舎点検"},
    )  # fmt: skip
    assert r.status_code == 303
    assert slot_starts(client, city.consult_id, DAY) == []
    html = client.get(page).text
    assert "2026年12月1日(火)" in html and "終日休み" in html and "庁舎点検" in html
    # Opening for one hour instead: only that hour's slots are offered.
    r = post_form(
        client, page, f"/admin/departments/{city.dept_id}/overrides",
        {"day": DAY, "hours": "09:00-10:00", "note": ""},
    )  # fmt: skip
    assert r.status_code == 303
    assert slot_starts(client, city.consult_id, DAY) == [
        "2026-12-01T09:00:00+09:00",
        "2026-12-01T09:30:00+09:00",
    ]
    with Session(ctx.engine) as s:
        rows = s.scalars(select(HoursOverride).where(HoursOverride.day.is_not(None))).all()
        assert len(rows) == 1  # the new exception replaced the old one
    r = post_form(client, page, f"/admin/departments/{city.dept_id}/overrides/{DAY}/delete", {})
    assert r.status_code == 303
    assert len(slot_starts(client, city.consult_id, DAY)) > 1
    # A bad exception is explained next to its field.
    r = post_form(
        client, page, f"/admin/departments/{city.dept_id}/overrides",
        {"day": "2026-02-30", "hours": "nine to five", "note": ""},
    )  # fmt: skip
    assert r.status_code == 422
    assert "2026-12-03" in error_of(r.text, "ov-day")


def test_a_city_closed_day_removes_its_slots(client: TestClient, city, ctx: AppContext) -> None:
    login(client)
    r = post_form(client, "/admin/city", "/admin/city/closures", {"day": DAY, "note": "選挙"})
    assert r.status_code == 303
    assert slot_starts(client, city.consult_id, DAY) == []
    with Session(ctx.engine) as s:
        assert [c.note for c in s.scalars(select(CityClosure))] == ["選挙"]
    r = post_form(client, "/admin/city", f"/admin/city/closures/{DAY}/delete", {})
    assert r.status_code == 303
    assert slot_starts(client, city.consult_id, DAY)


def test_branches_and_kiosks(client: TestClient, city, ctx: AppContext) -> None:
    login(client)
    r = post_form(
        client, "/admin/branches/new", "/admin/branches/new",
        {"slug": "minami", "name_ja": "南支所", "name_en": "South Branch", "address": ""},
    )  # fmt: skip
    assert r.status_code == 303
    with Session(ctx.engine) as s:
        kita_id = s.scalar(select(Kiosk.branch_id).where(Kiosk.slug == "kita-1"))
    r = post_form(
        client, "/admin/kiosks/new", "/admin/kiosks/new",
        {"branch_id": "999", "slug": "minami-1", "name": "南支所1号機", "active": "1"},
    )  # fmt: skip
    assert r.status_code == 422 and error_of(r.text, "branch_id") == "一覧から選んでください。"
    new_branch = re.search(r'<option value="(\d+)">南支所</option>', r.text)
    assert new_branch and new_branch.group(1) != str(kita_id)
    r = post_form(
        client, "/admin/kiosks/new", "/admin/kiosks/new",
        {"branch_id": new_branch.group(1), "slug": "minami-1", "name": "南支所1号機", "active": "1"},
    )  # fmt: skip
    assert r.status_code == 303
    assert "南支所1号機" in client.get("/admin/branches").text


GOOD_YAML = """\
departments:
  - slug: zeimu
    name_ja: 税務課
    name_en: Taxation Division
    hours:
      mon: ["08:30-17:15"]
"""

BAD_YAML = """\
departments:
  - slug: zeimu
    name_ja: 税務課
    name_en: Taxation Division
    hours:
      mon: ["08:30-17:15"]
services:
  - slug: shomei
    department: nowhere
    name_ja: 証明書の相談
    name_en: Certificates
    duration: 15
"""


def test_yaml_upload_with_an_error_is_rejected_and_changes_nothing(
    client: TestClient, city, ctx: AppContext
) -> None:
    login(client)
    page = client.get("/admin/import").text
    r = client.post(
        "/admin/import",
        data={"csrf_token": csrf_of(page)},
        files={"file": ("city.yaml", BAD_YAML.encode(), "application/yaml")},
    )
    assert r.status_code == 422
    assert "何も取り込んでいません" in r.text
    row = re.search(r'<tr><th scope="row">(\d+)</th><td><code>([^<]+)</code></td>', r.text)
    assert row and row.groups() == ("9", "services[0].department")
    assert "unknown department" in r.text
    with Session(ctx.engine) as s:
        assert s.scalar(select(Department).where(Department.slug == "zeimu")) is None
    # Not a YAML mapping, not UTF-8: plain messages.
    r = client.post(
        "/admin/import",
        data={"csrf_token": csrf_of(page)},
        files={"file": ("city.yaml", "\xff\xfe".encode("latin-1"), "application/yaml")},
    )
    assert r.status_code == 422 and "UTF-8" in r.text
    # The corrected file goes in whole.
    r = client.post(
        "/admin/import",
        data={"csrf_token": csrf_of(page)},
        files={"file": ("city.yaml", GOOD_YAML.encode(), "application/yaml")},
    )
    assert r.status_code == 200 and "取り込みました" in r.text
    with Session(ctx.engine) as s:
        assert s.scalar(select(Department).where(Department.slug == "zeimu")) is not None


def test_yaml_upload_needs_the_csrf_token(client: TestClient, city) -> None:
    login(client)
    r = client.post(
        "/admin/import", files={"file": ("city.yaml", GOOD_YAML.encode(), "application/yaml")}
    )
    assert r.status_code == 403


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_admin_forms_have_labels_in_both_languages(client: TestClient, city, lang: str) -> None:
    login(client)
    html = client.get(f"/admin/services/new?lang={lang}").text
    assert f'<html lang="{lang}">' in html
    for name in ("slug", "name_ja", "duration_min", "daily_cap"):
        assert f'<label for="{name}">' in html
    assert "<legend>" in html  # the channel checkboxes are a fieldset
    assert ("所要時間" if lang == "ja" else "Duration (minutes)") in html


@pytest.mark.parametrize(
    ("text", "windows", "error"),
    [
        ("", [], None),
        ("08:30-12:00, 13:00-17:15", [(8, 30, 12, 0), (13, 0, 17, 15)], None),
        ("13:00〜17:15、8:30-12:00", [(8, 30, 12, 0), (13, 0, 17, 15)], None),
        ("9-12", [], "Write times like 08:30-12:00, 13:00-17:15."),
        ("09:00-25:00", [], "Write times like 08:30-12:00, 13:00-17:15."),
        ("12:00-09:00", [], "{window}: the end must be after the start."),
        ("09:00-12:00, 11:00-13:00", [], "The times overlap."),
    ],
)
def test_parse_windows(text: str, windows: list[tuple[int, ...]], error: str | None) -> None:
    parsed, message = parse_windows(text)
    assert [(s.hour, s.minute, e.hour, e.minute) for s, e in parsed] == windows
    assert (message[0] if message else None) == error


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/services/9999"),
        ("GET", "/admin/services/abc"),
        ("POST", "/admin/services/9999"),
        ("GET", "/admin/interpreter-languages/xx"),
        ("GET", "/admin/departments/9999/hours"),
        ("POST", "/admin/staff/9999/hours"),
        ("POST", "/admin/departments/9999/overrides"),
        ("POST", "/admin/staff/9999/leave"),
        ("POST", "/admin/kiosks/9999/pairing"),
        ("POST", "/admin/kiosks/9999/revoke"),
        ("GET", "/admin/kiosks/9999/open"),
    ],
)
def test_a_missing_row_is_the_admin_not_found_page(
    client: TestClient, city, method: str, path: str
) -> None:
    login(client, "admin")
    token = csrf_of(client.get("/admin/services/new").text)
    r = client.request(method, path, data={"csrf_token": token} if method == "POST" else None)
    assert r.status_code == 404, path
    assert "管理" in r.text and 'href="/admin"' in r.text
    assert "見つかりません" in r.text or "Not found" in r.text
