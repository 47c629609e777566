"""``madoguchi import``: the demo city, upsert semantics, errors with lines, atomicity."""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.core.db import Base
from scheduler.city_file import CityConfig, parse_city_yaml
from scheduler.errors import ImportFileError
from scheduler.importer import ImportReport, import_city, load_city_file
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

DEMO = Path(__file__).parents[2] / "app" / "ops" / "demo_city.yaml"

# Real argon2, cheap parameters: the demo has 18 passwords to hash per import.
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def line_of(text: str, needle: str) -> int:
    """1-based line of the only line containing ``needle``."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) == 1, (needle, hits)
    return hits[0]


def row_counts(session: Session) -> dict[str, int]:
    session.flush()
    return {
        table.name: session.scalar(select(func.count()).select_from(table)) or 0
        for table in Base.metadata.sorted_tables
    }


def import_text(session: Session, text: str, *, hasher: PasswordHasher = FAST) -> ImportReport:
    return import_city(session, parse_city_yaml(textwrap.dedent(text), "city.yaml"), hasher=hasher)


@pytest.fixture(scope="module")
def demo() -> CityConfig:
    return load_city_file(DEMO)


@pytest.fixture
def demo_text() -> str:
    return DEMO.read_text(encoding="utf-8")


def staff_named(session: Session, login: str) -> Staff:
    return session.scalars(select(Staff).where(Staff.login == login)).one()


# -- the demo city -------------------------------------------------------------------


def test_demo_city_imports_with_expected_counts(db: Session, demo: CityConfig) -> None:
    report = import_city(db, demo, hasher=FAST)

    assert {kind: c.created for kind, c in report.kinds().items()} == {
        "city": 1,
        "departments": 6,
        "services": 18,
        "staff": 18,
        "branches": 2,
        "kiosks": 4,
        "interpreter_languages": 5,
        "interpreters": 4,
        "forms": 3,
    }
    assert report.updated == 0
    counts = row_counts(db)
    assert counts["departments"] == 6
    assert counts["services"] == 18
    assert counts["staff"] == 18
    assert counts["branches"] == 2
    assert counts["kiosks"] == 4
    assert counts["city_closures"] == 1
    assert counts["staff_leave"] == 3

    city = db.get(City, 1)  # the id SchedulingService.closure_policy reads
    assert city is not None
    assert (city.name_ja, city.name_en) == ("みどり市", "Midori City")
    assert city.close_public_holidays and city.close_year_end


def test_demo_city_content(db: Session, demo: CityConfig) -> None:
    import_city(db, demo, hasher=FAST)

    shimin = db.scalars(select(Department).where(Department.slug == "shimin")).one()
    assert [(h.weekday, h.start, h.end) for h in shimin.hours if h.weekday == 5] == [
        (5, time(9), time(12))
    ]
    # Every weekday 08:30-17:15 with a lunch break.
    assert [(h.start, h.end) for h in shimin.hours if h.weekday == 0] == [
        (time(8, 30), time(12)),
        (time(13), time(17, 15)),
    ]

    mynumber = db.scalars(select(Service).where(Service.slug == "mynumber")).one()
    assert mynumber.department_id == shimin.id
    assert (mynumber.duration_min, mynumber.buffer_after_min, mynumber.slot_step_min) == (20, 5, 30)
    assert mynumber.channels == "online,kiosk"
    assert mynumber.daily_cap == 12
    assert mynumber.description_en.startswith("Applying for")
    kyufukin = db.scalars(select(Service).where(Service.slug == "kyufukin")).one()
    assert kyufukin.rush and kyufukin.rush_opens_at is None  # the demo's opening-day rush
    assert not mynumber.rush
    hoikuen = db.scalars(select(Service).where(Service.slug == "hoikuen")).one()
    assert (hoikuen.channels, hoikuen.min_notice_min, hoikuen.horizon_days) == ("online", 1440, 90)

    # Hours default to the union of the departments' hours: 市民課 opens on Saturdays.
    sato = staff_named(db, "sato")
    assert {h.weekday for h in sato.hours} == {0, 1, 2, 3, 4, 5}
    takahashi = staff_named(db, "takahashi")  # explicit part-time hours
    assert {(h.weekday, h.start, h.end) for h in takahashi.hours} == {
        (day, start, end)
        for day in (0, 2, 4)
        for start, end in ((time(9), time(12)), (time(13), time(16)))
    }
    suzuki = staff_named(db, "suzuki")
    assert {d.slug for d in suzuki.departments} == {"shimin", "zeimu"}
    assert {s.slug for s in suzuki.skills} == {"tennyu-tenshutsu", "mynumber", "juminzei"}

    leave = db.scalars(select(StaffLeave).where(StaffLeave.staff_id == sato.id)).one()
    assert leave.start_at == datetime(2026, 12, 20, 23, 30, tzinfo=UTC)  # 12/21 08:30 JST
    assert leave.end_at == datetime(2026, 12, 25, 8, 15, tzinfo=UTC)

    closed = db.scalars(select(HoursOverride).where(HoursOverride.day == date(2026, 10, 21))).one()
    assert (closed.start, closed.end, closed.staff_id) == (None, None, None)
    assert db.get(CityClosure, date(2026, 10, 16)) is not None

    north = db.scalars(select(Branch).where(Branch.slug == "kita-shisho")).one()
    assert {k.slug for k in north.kiosks} == {"kita-shisho-1", "kita-toshokan"}

    admin = staff_named(db, "admin")
    assert admin.is_admin and not admin.departments and not admin.hours
    assert not staff_named(db, "sato").is_admin


def test_demo_passwords_are_argon2_hashes_of_demo(db: Session, demo: CityConfig) -> None:
    import_city(db, demo, hasher=FAST)
    people = db.scalars(select(Staff)).all()
    assert len(people) >= 16
    for person in people:
        assert person.password_hash is not None
        assert person.password_hash.startswith("$argon2id$")
        # Any argon2 verifier works: the parameters travel inside the hash.
        assert PasswordHasher().verify(person.password_hash, "demo")
    assert len({p.password_hash for p in people}) == len(people)  # salted one by one


# -- upsert ----------------------------------------------------------------------------


def test_reimport_is_idempotent(db: Session, demo: CityConfig) -> None:
    import_city(db, demo, hasher=FAST)
    before = row_counts(db)
    hashes = dict(db.execute(select(Staff.login, Staff.password_hash)).all())

    report = import_city(db, demo, hasher=FAST)

    assert report.created == 0
    assert report.updated == 0
    assert {kind: c.unchanged for kind, c in report.kinds().items()} == {
        "city": 1,
        "departments": 6,
        "services": 18,
        "staff": 18,
        "branches": 2,
        "kiosks": 4,
        "interpreter_languages": 5,
        "interpreters": 4,
        "forms": 3,
    }
    assert row_counts(db) == before
    assert dict(db.execute(select(Staff.login, Staff.password_hash)).all()) == hashes


def test_edited_field_updates_only_that_entry(db: Session, demo_text: str) -> None:
    import_text(db, demo_text)
    edited = demo_text.replace("name_en: Bulky waste collection\n", "name_en: Bulky waste\n", 1)
    edited = edited.replace(
        "duration: 15\n    slot_step: 15\n", "duration: 20\n    slot_step: 15\n"
    )
    edited = edited.replace(
        "      tue: *weekday\n      wed: *weekday\n      thu: *weekday\n    password: demo",
        '      tue: *weekday\n      wed: ["13:00-17:15"]\n    password: demo',
    )
    edited = edited.replace("address: みどり市南町4丁目5番6号", "address: みどり市南町4丁目7番8号")
    assert edited.count("Bulky waste\n") == 1

    report = import_text(db, edited)

    assert (report.services.updated, report.services.unchanged) == (1, 17)
    assert (report.staff.updated, report.staff.unchanged) == (1, 17)
    assert (report.branches.updated, report.kiosks.updated) == (1, 0)
    assert report.departments.updated == 0
    sodai = db.scalars(select(Service).where(Service.slug == "sodai-gomi")).one()
    assert (sodai.name_en, sodai.duration_min) == ("Bulky waste", 20)
    inoue = staff_named(db, "inoue")
    assert [(h.weekday, h.start, h.end) for h in inoue.hours] == [
        (1, time(8, 30), time(12)),
        (1, time(13), time(17, 15)),
        (2, time(13), time(17, 15)),
    ]
    # Replaced, not appended: no orphaned hour rows left behind.
    assert (
        db.scalar(
            select(func.count()).select_from(StaffHours).where(StaffHours.staff_id == inoue.id)
        )
        == 3
    )


def test_english_forms_of_kiosks_and_addresses_are_imported(db: Session, demo_text: str) -> None:
    import_text(db, demo_text)
    kita = db.scalars(select(Branch).where(Branch.slug == "kita-shisho")).one()
    kiosk = db.scalars(select(Kiosk).where(Kiosk.slug == "kita-toshokan")).one()
    assert kita.address_en == "1-2-3 Kitamachi, Midori City"
    assert (kiosk.name, kiosk.name_en) == ("北図書館 リモート窓口", "North Library remote counter")
    # Optional: left out, a re-import keeps them; empty clears them (English
    # pages then show the Japanese forms).
    left_out = demo_text.replace("        name_en: North Library remote counter\n", "", 1)
    left_out = left_out.replace("    address_en: 1-2-3 Kitamachi, Midori City\n", "", 1)
    report = import_text(db, left_out)
    assert (report.branches.updated, report.kiosks.updated) == (0, 0)
    emptied = demo_text.replace("name_en: North Library remote counter", 'name_en: ""', 1)
    emptied = emptied.replace("address_en: 1-2-3 Kitamachi, Midori City", 'address_en: ""', 1)
    report = import_text(db, emptied)
    assert (report.branches.updated, report.kiosks.updated) == (1, 1)
    db.refresh(kita)
    db.refresh(kiosk)
    assert (kita.address_en, kiosk.name_en) == ("", "")


def test_lists_are_replaced_and_nothing_is_deleted(db: Session, demo: CityConfig) -> None:
    import_city(db, demo, hasher=FAST)
    report = import_text(
        db,
        """\
        city:
          name_ja: みどり市
          name_en: Midori City
          closed_days:
            - date: 2026-11-04
              note: 選挙準備
        departments:
          - slug: kankyo
            name_ja: 環境課
            name_en: Environment Division
            hours:
              mon: ["09:00-12:00"]
        staff:
          - login: sato
            display_name: 佐藤 美咲
            departments: [zeimu]
            skills: [juminzei]
            active: false
        """,
    )

    assert report.city.updated == 1
    assert report.departments.updated == 1
    assert report.staff.updated == 1
    assert report.services.created + report.services.updated + report.services.unchanged == 0
    # Closed days, hours, departments, skills and leave are replaced as a whole ...
    assert db.scalars(select(CityClosure.day)).all() == [date(2026, 11, 4)]
    kankyo = db.scalars(select(Department).where(Department.slug == "kankyo")).one()
    assert [(h.weekday, h.start, h.end) for h in kankyo.hours] == [(0, time(9), time(12))]
    sato = staff_named(db, "sato")
    assert not sato.active
    assert [d.slug for d in sato.departments] == ["zeimu"]
    assert [s.slug for s in sato.skills] == ["juminzei"]
    assert {h.weekday for h in sato.hours} == {0, 1, 2, 3, 4}  # now 税務課's hours
    assert db.scalars(select(StaffLeave).where(StaffLeave.staff_id == sato.id)).all() == []
    assert sato.password_hash is not None  # no password in the file: kept
    # ... but entities the file does not mention are untouched.
    assert db.scalar(select(func.count()).select_from(Department)) == 6
    assert db.scalar(select(func.count()).select_from(Staff)) == 18
    assert (
        db.scalar(
            select(func.count())
            .select_from(DepartmentHours)
            .where(DepartmentHours.department_id != kankyo.id)
        )
        == 5 * 2 * 5 + 1
    )


def test_partial_file_may_refer_to_database_entries(db: Session, demo: CityConfig) -> None:
    import_city(db, demo, hasher=FAST)
    report = import_text(
        db,
        """\
        services:
          - slug: kojin-zei
            department: zeimu
            name_ja: 個人事業の税の相談
            name_en: Taxes for sole proprietors
            duration: 30
        staff:
          - login: newcomer
            display_name: 新人 太郎
            departments: [zeimu]
            skills: [juminzei, kojin-zei]
        """,
    )
    assert (report.services.created, report.staff.created) == (1, 1)
    newcomer = staff_named(db, "newcomer")
    assert {s.slug for s in newcomer.skills} == {"juminzei", "kojin-zei"}
    assert newcomer.password_hash is None
    assert {h.weekday for h in newcomer.hours} == {0, 1, 2, 3, 4}


def test_kiosk_moves_between_branches(db: Session, demo: CityConfig) -> None:
    import_city(db, demo, hasher=FAST)
    report = import_text(
        db,
        """\
        branches:
          - slug: minami-shisho
            name_ja: 南支所
            name_en: South Branch Office
            address: みどり市南町4丁目5番6号
            kiosks:
              - slug: kita-toshokan
                name: 北図書館 リモート窓口
                active: false
        """,
    )
    assert (report.branches.unchanged, report.kiosks.updated) == (1, 1)
    kiosk = db.scalars(select(Kiosk).where(Kiosk.slug == "kita-toshokan")).one()
    assert kiosk.branch.slug == "minami-shisho"
    assert not kiosk.active


# -- passwords ---------------------------------------------------------------------------


def test_passwords_hashed_with_default_argon2_and_kept_while_they_match(db: Session) -> None:
    text = """\
        demo: true
        staff:
          - login: alice
            display_name: Alice
            password: {password}
          - login: bob
            display_name: Bob
            password_hash: {hash}
        """
    given_hash = FAST.hash("bobs secret")
    report = import_text(db, text.format(password="demo", hash=given_hash), hasher=PasswordHasher())
    assert report.staff.created == 2
    alice, bob = staff_named(db, "alice"), staff_named(db, "bob")
    assert alice.password_hash is not None
    assert alice.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PasswordHasher().verify(alice.password_hash, "demo")
    assert bob.password_hash == given_hash
    first_hash = alice.password_hash

    report = import_text(db, text.format(password="demo", hash=given_hash), hasher=PasswordHasher())
    assert report.staff.unchanged == 2
    assert alice.password_hash == first_hash

    report = import_text(
        db, text.format(password="changed", hash=given_hash), hasher=PasswordHasher()
    )
    assert report.staff.updated == 1
    assert alice.password_hash != first_hash
    assert PasswordHasher().verify(alice.password_hash, "changed")


# -- errors --------------------------------------------------------------------------------

BASE = """\
departments:
  - slug: shimin
    name_ja: 市民課
    name_en: Residents
    hours:
      mon: ["08:30-12:00", "13:00-17:15"]
services:
  - slug: juminhyo
    department: shimin
    name_ja: 住民票
    name_en: Residence certificate
    duration: 15
staff:
  - login: sato
    display_name: 佐藤
    departments: [shimin]
    skills: [juminhyo]
"""


@pytest.mark.parametrize(
    ("old", "new", "needle", "expected"),
    [
        pytest.param(
            "    name_en: Residents\n",
            "    name_en: Residents\n    colour: green\n",
            "colour:",
            "departments[0].colour: unknown field",
            id="unknown-key",
        ),
        pytest.param(
            '"13:00-17:15"',
            '"13:00-17:75"',
            "17:75",
            "departments[0].hours.mon[1]: '13:00-17:75' contains an impossible time",
            id="bad-time",
        ),
        pytest.param(
            '"08:30-12:00", ',
            '"12:00-08:30", ',
            "12:00-08:30",
            "departments[0].hours.mon[0]: '12:00-08:30' ends before it starts",
            id="reversed-time",
        ),
        pytest.param(
            "      mon:",
            "      monday:",
            "monday:",
            "departments[0].hours.monday: invalid key",
            id="bad-weekday",
        ),
        pytest.param(
            "    duration: 15\n",
            "    duration: 15\n  - slug: juminhyo # again\n    department: shimin\n"
            "    name_ja: 重複\n    name_en: Dup\n    duration: 15\n",
            "# again",
            "services[1].slug: duplicate service slug 'juminhyo' (also at services[0].slug)",
            id="duplicate-slug",
        ),
        pytest.param(
            "    duration: 15\n",
            "    duration: 15\n    duration: 20\n",
            "duration: 20",
            "services[0].duration: key appears twice",
            id="duplicate-yaml-key",
        ),
        pytest.param(
            "    duration: 15\n",
            '    duration: "15"\n',
            'duration: "15"',
            "services[0].duration: Input should be a valid integer, got '15'",
            id="quoted-number",
        ),
        pytest.param(
            "    duration: 15\n",
            "    duration: 15\n    slot_step: 1:30\n",
            "slot_step",
            "services[0].slot_step: Input should be a valid integer, got '1:30'",
            id="sexagesimal-is-not-a-number",
        ),
        pytest.param(
            "    duration: 15\n",
            "    duration: 15\n    channels: [online, fax]\n",
            "channels",
            "services[0].channels[1]: Input should be 'online' or 'kiosk', got 'fax'",
            id="bad-channel",
        ),
        pytest.param(
            "    display_name: 佐藤\n",
            "    display_name: 佐藤\n    password: hunter2\n",
            "hunter2",
            "staff[0].password: plain-text passwords are only allowed in a demo file",
            id="password-outside-demo",
        ),
        pytest.param(
            "    display_name: 佐藤\n",
            "    display_name: 佐藤\n    leave:\n      - from: 2026-12-21T09:00\n"
            "        to: 2026-12-21T12:00+09:00\n",
            "from:",
            "staff[0].leave[0].from: '2026-12-21T09:00' needs a UTC offset",
            id="naive-leave",
        ),
        pytest.param(
            "    display_name: 佐藤\n",
            "    display_name: 佐藤\n    email: sato-at-city\n",
            "email",
            "staff[0].email: 'sato-at-city' is not an e-mail address",
            id="bad-email",
        ),
        pytest.param(
            "  - login: sato\n",
            "  - login: Sato Taro\n",
            "login:",
            "staff[0].login: 'Sato Taro' is not a login",
            id="bad-login",
        ),
        pytest.param(
            "    duration: 15\n",
            "    duration: 15\n    hook: !!python/object/apply:os.system [echo]\n",
            "hook:",
            "services[0].hook: unsupported tag tag:yaml.org,2002:python/object/apply:os.system",
            id="python-tag",
        ),
        pytest.param(
            "    skills: [juminhyo]\n",
            "    skills: [juminhyo\n",
            None,
            "not valid YAML",
            id="yaml-syntax",
        ),
    ],
)
def test_file_errors_name_line_and_field(
    old: str, new: str, needle: str | None, expected: str
) -> None:
    text = BASE.replace(old, new, 1)
    assert text != BASE
    with pytest.raises(ImportFileError) as info:
        parse_city_yaml(text, "city.yaml")
    message = str(info.value)
    if needle is not None:
        assert f"city.yaml:{line_of(text, needle)}: {expected}" in message
    else:
        assert message.startswith("city.yaml:") and expected in message


def test_missing_required_field_points_at_the_entry() -> None:
    text = BASE.replace("    duration: 15\n", "")
    with pytest.raises(ImportFileError) as info:
        parse_city_yaml(text, "city.yaml")
    line = line_of(text, "- slug: juminhyo")
    assert str(info.value) == f"city.yaml:{line}: services[0].duration: required field is missing"


def test_all_errors_are_reported_at_once() -> None:
    text = (
        BASE.replace("    name_en: Residents\n", "    name_en: Residents\n    colour: green\n")
        .replace("duration: 15", "duration: -5")
        .replace("  - login: sato", "  - login: sato\n    is_admin: yes")
    )
    with pytest.raises(ImportFileError) as info:
        parse_city_yaml(text, "city.yaml")
    assert [(line, field) for line, field, _ in info.value.problems] == [
        (line_of(text, "colour"), "departments[0].colour"),
        (line_of(text, "duration"), "services[0].duration"),
        (line_of(text, "is_admin"), "staff[0].is_admin"),
    ]
    assert len(str(info.value).splitlines()) == 3


def test_load_city_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "city.yaml"
    text = BASE.replace("  - login: sato", "  - login: sato\n    bogus: 1")
    path.write_text(text, "utf-8")
    with pytest.raises(ImportFileError) as info:
        load_city_file(path)
    assert str(info.value) == f"{path}:{line_of(text, 'bogus')}: staff[0].bogus: unknown field"
    with pytest.raises(ImportFileError, match="cannot read the file"):
        load_city_file(tmp_path / "missing.yaml")
    path.write_text("", "utf-8")
    with pytest.raises(ImportFileError, match="the file is empty"):
        load_city_file(path)


def test_unknown_references_are_reported_and_nothing_is_written(db: Session) -> None:
    text = (
        BASE.replace("    department: shimin\n", "    department: shimn\n")
        .replace("departments: [shimin]", "departments: [shimin, kosodate]")
        .replace("skills: [juminhyo]", "skills: [juminhyo, juminhyo-x]")
    )
    before = row_counts(db)
    config = parse_city_yaml(text, "city.yaml")  # references are checked on import
    with pytest.raises(ImportFileError) as info:
        import_city(db, config, hasher=FAST)
    assert str(info.value).splitlines() == [
        f"city.yaml:{line_of(text, 'shimn')}: services[0].department: unknown department 'shimn'",
        f"city.yaml:{line_of(text, 'kosodate')}: staff[0].departments[1]: "
        "unknown department 'kosodate'",
        f"city.yaml:{line_of(text, 'juminhyo-x')}: staff[0].skills[1]: "
        "unknown service 'juminhyo-x'",
    ]
    assert row_counts(db) == before


# -- atomicity ---------------------------------------------------------------------------


def snapshot(engine: Engine) -> tuple[dict[str, int], list[tuple[str, str]]]:
    with Session(engine) as session:
        names = session.execute(select(Service.slug, Service.name_en).order_by(Service.slug))
        return row_counts(session), [(slug, name) for slug, name in names]


def test_error_in_the_last_entry_leaves_the_database_unchanged(
    committing_engine: Engine, demo_text: str
) -> None:
    with Session(committing_engine) as session, session.begin():
        import_text(session, demo_text)
    before = snapshot(committing_engine)

    # Edits all through the file, and an unknown skill in the very last entry.
    edited = demo_text.replace("name_en: Bulky waste collection", "name_en: Bulky waste")
    edited = edited.replace(
        "  - login: admin\n",
        "  - login: newcomer\n    display_name: 新人\n    skills: [sodai-gomi]\n  - login: admin\n",
    )
    edited = edited.replace("    is_admin: true\n", "    is_admin: true\n    skills: [sodai-gom]\n")
    with (
        pytest.raises(ImportFileError, match=r"staff\[18\]\.skills\[0\]: unknown service"),
        Session(committing_engine) as session,
        session.begin(),
    ):
        import_text(session, edited)

    assert snapshot(committing_engine) == before


class FailingHasher(PasswordHasher):
    """Fails on the n-th hash: a fault in the middle of writing the staff."""

    def __init__(self, fail_at: int) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.calls = 0
        self.fail_at = fail_at

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("simulated failure half-way through the import")
        return super().hash(password, salt=salt)


def test_failure_half_way_rolls_back_everything(
    committing_engine: Engine, demo: CityConfig
) -> None:
    before = snapshot(committing_engine)
    hasher = FailingHasher(fail_at=len(demo.staff))  # the last staff member
    with (
        pytest.raises(RuntimeError, match="half-way"),
        Session(committing_engine) as session,
        session.begin(),
    ):
        import_city(session, demo, hasher=hasher)
    assert hasher.calls == len(demo.staff)
    assert snapshot(committing_engine) == before
    assert before[0]["departments"] == 0
