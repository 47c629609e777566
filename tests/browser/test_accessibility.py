"""axe-core over every page, in Japanese and in English: no serious or critical violations.

The app runs from the shared harness (``conftest.py``: ``madoguchi serve`` and
Chromium in a loopback-only namespace) with a small city that has every kind
of page: online and kiosk services, a service with a daily cap (full days,
the waiting list and its offers), a branch with a kiosk. The test books
through the API, then visits each page, in each state a person can meet it
in, and runs ``axe.run`` with the WCAG 2.0 A/AA and 2.1 AA rules. axe-core
comes from npm (``tests/browser/package.json``; ``scripts/test.sh`` runs
``npm ci --prefix tests/browser``) and is injected into each page, so the
browser context bypasses the pages' Content-Security-Policy.

A failure lists every violation readably: page, language, rule, impact, and
the offending elements.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from axe_harness import AXE_RUN, AXE_TAGS, FAILING_IMPACTS, load_axe
from browser_harness import ADMIN_LOGIN, ADMIN_PASSWORD, SECRET, AppInNetns
from served_clock import TOKYO

from app.core.tokens import Purpose, Tokens

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TZ = TOKYO
STAFF_LOGIN, STAFF_PASSWORD = "yamada", "demo"

# Open around the clock (the app's clock is a weekday 10:00), with a service
# for every channel, a capped service for the waiting list, and a kiosk.
A11Y_CITY_YAML = """\
demo: true
city:
  name_ja: てすと市
  name_en: Test City
  close_public_holidays: false
  close_year_end: false
departments:
  - slug: soudan
    name_ja: 総合相談課
    name_en: General Consultation Division
    description_ja: 暮らしの困りごとの相談を受け付けます。
    description_en: Help with everyday questions.
    hours:
      mon: &allday ["00:00-23:59"]
      tue: *allday
      wed: *allday
      thu: *allday
      fri: *allday
      sat: *allday
      sun: *allday
services:
  - slug: sodan
    department: soudan
    name_ja: オンライン相談
    name_en: Online consultation
    description_ja: 本人確認書類をお手元にご用意ください。
    description_en: Please have photo ID at hand.
    duration: 20
    slot_step: 5
    channels: [online, kiosk]
    min_notice: 0
    horizon_days: 7
    change_cutoff: 0
  - slug: teiin
    department: soudan
    name_ja: 予約枠の少ない相談
    name_en: Consultation with few places
    duration: 20
    slot_step: 20
    channels: [online]
    min_notice: 0
    horizon_days: 7
    daily_cap: 1
    change_cutoff: 0
staff:
  - login: yamada
    display_name: 山田 太郎
    email: yamada@city.test.example
    departments: [soudan]
    skills: [sodan, teiin]
    password: demo
  - login: admin
    display_name: 管理者
    email: admin@city.test.example
    departments: [soudan]
    is_admin: true
    password: demo
branches:
  - slug: kita
    name_ja: 北支所
    name_en: North Branch Office
    address: てすと市北町1丁目2番3号
    kiosks:
      - slug: kita-1
        name: 北支所 リモート窓口
# The service pages then offer the interpreter choice.
interpreter_languages:
  - code: pt
    name_ja: ポルトガル語
    name_en: Portuguese
    name_native: Português
interpreters:
  - slug: silva
    name: Ana Silva
    email: silva@interp.test.example
    languages: [pt]
    hours:
      mon: ["00:00-23:59"]
"""


@pytest.fixture
def city_yaml() -> str:
    return A11Y_CITY_YAML


@pytest.fixture
def app_env(app_env: dict[str, str]) -> dict[str, str]:
    return {**app_env, "MADOGUCHI_KIOSK_PHONE": "01-2345-6789"}


@pytest.fixture(scope="session")
def axe_source() -> str:
    return load_axe()


# -- the data the pages show -------------------------------------------------------------------


@dataclass
class Seeded:
    """Links and codes of the bookings made for the visit."""

    service_id: int
    capped_id: int
    kiosk_id: int
    day: str  # a day with free times
    full_day: str  # the capped service's day that is full (waiting list)
    slot: str  # a free start time (ISO)
    manage: str  # path of a live online booking's manage page
    join: str  # its join page (open)
    join_early: str  # a join page that is not open yet
    join_expired: str
    cancelled_manage: str
    cancelled_join: str
    manage_expired: str
    offer: str  # a waiting-list offer page
    code: str  # the live online booking's code (staff pages)
    kiosk_code: str  # a kiosk booking of today
    kiosk_home: str
    kiosk_service: int  # a service offered at kiosks (walk-in queue)
    slip: str


def _path(url: str) -> str:
    return httpx.URL(url).raw_path.decode()


def _slots(api: httpx.Client, service_id: int, first: str, last: str, **params: Any) -> list[str]:
    r = api.get(
        f"/api/v1/services/{service_id}/availability",
        params={"from": first, "to": last, **params},
    )
    r.raise_for_status()
    return [s["start"] for s in r.json()["slots"]]


def _book(api: httpx.Client, service_id: int, start: str, **extra: Any) -> dict[str, Any]:
    body = {
        "service_id": service_id,
        "start": start,
        "channel": "online",
        "name": "山田 花子",
        "email": "hanako@example.jp",
        **extra,
    }
    r = api.post("/api/v1/bookings", json=body)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def seed(app: AppInNetns) -> Seeded:
    db = app.env["MADOGUCHI_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        ids = dict(conn.execute("SELECT slug, id FROM services").fetchall())
        kiosk_id = conn.execute("SELECT id FROM kiosks WHERE slug = 'kita-1'").fetchone()[0]
    tokens = Tokens(SECRET)
    now = app.clock.now()
    today = now.astimezone(TOKYO).date()
    days = [(today + timedelta(days=n)).isoformat() for n in range(4)]
    with httpx.Client(base_url=app.base_url, trust_env=False, timeout=20) as api:

        def next_free(service: str, day: str, **params: Any) -> dict[str, Any]:
            # One staff member: every booking takes the times around it.
            return _book(api, ids[service], _slots(api, ids[service], day, day)[0], **params)

        # Today's first free time: its join page is open (links open 2 hours early).
        live = _book(api, ids["sodan"], _slots(api, ids["sodan"], days[0], days[0])[0])
        later = next_free("sodan", days[3])
        gone = next_free("sodan", days[2])
        api.post(f"/api/v1/bookings/{_path(gone['manage_url']).rsplit('/', 1)[1]}/cancel")
        kiosk_slots = _slots(
            api, ids["sodan"], days[0], days[0], channel="kiosk", kiosk_id=kiosk_id
        )
        assert kiosk_slots, "the kiosk has times left today"
        kiosk = _book(api, ids["sodan"], kiosk_slots[0], channel="kiosk", kiosk_id=kiosk_id)
        # The capped service: day 1 full (waiting list), day 2 freed for an offer.
        next_free("teiin", days[1])
        taken = next_free("teiin", days[2])
        r = api.post(
            "/api/v1/waitlist",
            json={
                "service_id": ids["teiin"],
                "day": days[2],
                "name": "佐藤 一郎",
                "email": "ichiro@example.jp",
            },
        )
        assert r.status_code == 201, r.text
        token = _path(taken["manage_url"]).rsplit("/", 1)[1]
        assert api.post(f"/api/v1/bookings/{token}/cancel").status_code == 200
        slot = _slots(api, ids["sodan"], days[1], days[1])[0]
    with sqlite3.connect(db) as conn:
        bodies = [b for (b,) in conn.execute("SELECT body FROM outbox ORDER BY id")]
    offers = [m.group(0) for b in bodies for m in [re.search(r"/waitlist/offers/[\w.\-]+", b)] if m]
    assert offers, "the cancelled booking was offered to the waiting list"
    join_claims = {"room": "no-such-room", "role": "resident", "pid": "r", "name": "x"}
    return Seeded(
        service_id=ids["sodan"],
        capped_id=ids["teiin"],
        kiosk_id=kiosk_id,
        day=days[1],
        full_day=days[1],
        slot=slot,
        manage=_path(live["manage_url"]),
        join=_path(live["join_url"]),
        join_early=_path(later["join_url"]),
        join_expired="/join/"
        + tokens.issue(Purpose.JOIN, join_claims, expires=now - timedelta(hours=1)),
        cancelled_manage=_path(gone["manage_url"]),
        cancelled_join=_path(gone["join_url"]),
        manage_expired="/manage/"
        + tokens.issue(
            Purpose.MANAGE, {"b": 1, "c": live["code"]}, expires=now - timedelta(days=1)
        ),
        offer=offers[-1],
        code=live["code"],
        kiosk_code=kiosk["code"],
        kiosk_home="/kiosk/"
        + tokens.issue(Purpose.KIOSK, {"k": kiosk_id}, expires=now + timedelta(days=1)),
        kiosk_service=ids["sodan"],
        slip=f"/api/v1/staff/bookings/{live['code']}/slip",
    )


# -- running axe -----------------------------------------------------------------------------------


@dataclass
class Audit:
    locale: str
    axe: str
    visited: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    # Moderate and minor findings: printed for information, never a failure.
    lesser: dict[str, int] = field(default_factory=dict)

    def check(self, page: Page, label: str) -> None:
        page.wait_for_load_state("load")
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.add_script_tag(content=self.axe)
        found: list[dict[str, Any]] = page.evaluate(AXE_RUN, AXE_TAGS)
        where = f"[{self.locale}] {label} ({_short(page.url)})"
        self.visited.append(where)
        for v in found:
            if v["impact"] not in FAILING_IMPACTS:
                key = f"{v['id']} ({v['impact']}) on {label}"
                self.lesser[key] = self.lesser.get(key, 0) + len(v["nodes"])
                continue
            lines = [f"{where}: {v['id']} ({v['impact']}): {v['help']}"]
            for node in v["nodes"][:8]:
                html = re.sub(r"\s+", " ", node["html"])[:160]
                summary = re.sub(r"\s+", " ", node["summary"])[:300]
                lines.append(f"    {node['target']}  {html}\n      {summary}")
            self.violations.append("\n".join(lines))

    def visit(self, page: Page, label: str, path: str) -> None:
        page.goto(path)
        self.check(page, label)


def _short(url: str) -> str:
    """The URL without its long signed tokens."""
    path = httpx.URL(url).raw_path.decode()
    return re.sub(r"/\.?[\w\-]+(?:\.[\w\-]+)+(?=[/?]|$)", "/<token>", path)


@pytest.fixture
def contexts(chromium_in_netns: Browser, app_in_netns: AppInNetns) -> Iterator[Callable[..., Any]]:
    made: list[BrowserContext] = []

    def new(locale: str) -> BrowserContext:
        context = chromium_in_netns.new_context(
            base_url=app_in_netns.base_url,
            locale="ja-JP" if locale == "ja" else "en-US",
            bypass_csp=True,
            viewport={"width": 1280, "height": 900},
        )
        context.add_cookies([{"name": "lang", "value": locale, "url": app_in_netns.base_url}])
        context.set_default_timeout(30_000)
        made.append(context)
        return context

    yield new
    for context in made:
        context.close()


def _login(page: Page, login: str, password: str) -> None:
    page.goto("/staff/login")
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("form.narrow-form button[type=submit]")
    page.wait_for_url(re.compile(r"/(staff|admin)(\?.*)?$"))


# -- the pages ----------------------------------------------------------------------------------


def axe_self_check(audit: Audit, page: Page) -> None:
    """axe really runs and really reports: a broken page must not pass."""
    page.goto("/")
    page.evaluate(
        "() => { const i = document.createElement('input'); i.id = 'no-label';"
        " document.querySelector('main').append(i); }"
    )
    probe = Audit(audit.locale, audit.axe)
    probe.check(page, "self-check")
    assert any("label (critical)" in v for v in probe.violations), probe.violations


def resident_pages(audit: Audit, page: Page, data: Seeded) -> None:
    svc = data.service_id
    axe_self_check(audit, page)
    audit.visit(page, "resident start", "/")
    audit.visit(page, "department", "/departments/soudan")
    audit.visit(page, "service days", f"/services/{svc}")
    audit.visit(page, "day times", f"/services/{svc}/day/{data.day}")
    audit.visit(
        page, "full day with waiting list", f"/services/{data.capped_id}/day/{data.full_day}"
    )
    audit.visit(
        page,
        "waiting list joined",
        f"/services/{data.capped_id}/day/{data.full_day}?waitlisted=1",
    )
    audit.visit(page, "booking form", f"/services/{svc}/book?start={data.slot}")
    # The form sent empty: the validation-error state.
    page.click(f'form[action="/services/{svc}/book"] button[type=submit]')
    page.wait_for_load_state("load")
    audit.check(page, "booking form with errors")
    # A form without its CSRF token: the refused-form error page.
    page.goto(f"/services/{svc}/book?start={data.slot}")
    page.evaluate("() => document.querySelector('input[name=csrf_token]').remove()")
    page.click(f'form[action="/services/{svc}/book"] button[type=submit]')
    audit.check(page, "error: form refused")
    audit.visit(page, "confirmation", data.manage + "?new=1")
    audit.visit(page, "manage", data.manage)
    audit.visit(page, "cancel confirm", data.manage + "/cancel")
    audit.visit(page, "change time: days", data.manage + "/change")
    audit.visit(page, "change time: times", f"{data.manage}/change/{data.day}")
    audit.visit(page, "manage (cancelled)", data.cancelled_manage)
    audit.visit(page, "waiting-list offer", data.offer)
    audit.visit(page, "error: link invalid", "/manage/not-a-valid-token")
    audit.visit(page, "error: link expired", data.manage_expired)
    audit.visit(page, "error: not found", "/departments/no-such-department")
    audit.visit(page, "error: page not found", "/no-such-page")


def join_pages(audit: Audit, page: Page, data: Seeded) -> None:
    audit.visit(page, "join: early", data.join_early)
    audit.visit(page, "join: invalid", "/join/not-a-valid-token")
    audit.visit(page, "join: expired", data.join_expired)
    audit.visit(page, "join: cancelled", data.cancelled_join)
    audit.visit(page, "join: camera step", data.join)
    page.click("#btn-devices")
    page.wait_for_selector("#step-check:not([hidden])")
    page.wait_for_function(
        "() => document.querySelector('#btn-check-again') && "
        "!document.querySelector('#btn-check-again').hidden",
        timeout=60_000,
    )
    audit.check(page, "join: connection check done")
    # The booking is today's (the app's clock is a weekday 10:00): it can be entered.
    page.click("#btn-enter")
    page.wait_for_selector("#step-waiting:not([hidden])")
    page.wait_for_function("() => document.querySelector('#call-app').dataset.callState")
    audit.check(page, "join: waiting room")
    page.goto("about:blank")  # leaves the room (pagehide)


def staff_pages(audit: Audit, page: Page, data: Seeded) -> None:
    page.goto("/staff/login")
    audit.check(page, "staff login")
    page.fill("#login", STAFF_LOGIN)
    page.fill("#password", "wrong")
    page.click("form.narrow-form button[type=submit]")
    audit.check(page, "staff login (wrong password)")
    _login(page, STAFF_LOGIN, STAFF_PASSWORD)
    audit.visit(page, "staff console queue", "/staff")
    audit.visit(page, "booking detail", f"/staff/bookings/{data.code}")
    audit.visit(page, "staff schedule", "/staff/schedule")
    audit.visit(page, "staff remote counter", "/staff/counter")

    audit.visit(page, "staff applications", "/staff/applications")
    audit.visit(page, "session records", "/staff/records")
    audit.visit(page, "staff dashboard", "/staff/dashboard")
    audit.visit(page, "staff call page", f"/staff/call/{data.code}")
    audit.visit(page, "booking slip", data.slip)
    audit.visit(page, "staff: not found", "/staff/bookings/MDG-ZZZZZZ")
    audit.visit(page, "staff: admin forbidden", "/admin")


def admin_pages(audit: Audit, page: Page, data: Seeded) -> None:
    _login(page, ADMIN_LOGIN, ADMIN_PASSWORD)
    audit.visit(page, "admin index", "/admin")
    for entity in (
        "departments", "services", "staff", "branches", "kiosks", "interpreter-languages",
        "interpreters",
    ):  # fmt: skip
        audit.visit(page, f"admin {entity}", f"/admin/{entity}")
        first = page.locator("table tbody th a").first.get_attribute("href")
        audit.visit(page, f"admin new {entity}", f"/admin/{entity}/new")
        if entity == "services":
            page.click('form[action="/admin/services/new"] button[type=submit]')
            audit.check(page, "admin new services (errors)")
        assert first is not None
        audit.visit(page, f"admin edit {entity}", first)
        if entity in ("departments", "staff"):
            audit.visit(page, f"admin {entity} hours", first + "/hours")
    audit.visit(page, "admin city", "/admin/city")
    audit.visit(page, "remote counter with the supervisor board", "/staff/counter")
    audit.visit(page, "admin import", "/admin/import")
    audit.visit(page, "admin audit log", "/admin/audit")
    audit.visit(page, "admin kiosk status", "/admin/kiosk-status")
    page.click('form[action$="/pairing"] button[type=submit]')
    audit.check(page, "admin kiosk pairing code")


def kiosk_pages(audit: Audit, page: Page, data: Seeded) -> None:
    home = data.kiosk_home
    audit.visit(page, "kiosk start", home)
    audit.visit(page, "kiosk menu", home + "/menu")
    audit.visit(page, "kiosk code entry", home + "/code")
    page.click('#kiosk-keypad button[data-key="A"]')
    page.click("form.kiosk-code-form button[type=submit]")
    audit.check(page, "kiosk code entry (wrong code)")
    # The idle warning, opened at once rather than after the idle time.
    page.evaluate(
        "() => { document.getElementById('kiosk-idle-count').textContent = '15';"
        " document.getElementById('kiosk-idle').showModal(); }"
    )
    audit.check(page, "kiosk idle warning")
    audit.visit(page, "kiosk walk-in", home + "/walk-in")
    audit.visit(page, "kiosk walk-in, interpreter chosen", home + "/walk-in?interpreter=pt")
    # A walk-in's ticket (taken through the queue API: the walk-in screen shows
    # its service buttons only during staffed hours).
    ticket = page.evaluate(
        """async ([url, service]) => {
             const r = await fetch(url, {method: "POST",
               headers: {"content-type": "application/json"},
               body: JSON.stringify({service_id: service})});
             return (await r.json()).id;
           }""",
        ["/api/v1" + home + "/tickets", data.kiosk_service],
    )
    audit.visit(page, "kiosk walk-in ticket", f"{home}/ticket/{ticket}")
    audit.visit(page, "kiosk error (invalid link)", "/kiosk/not-a-valid-token")
    audit.visit(page, "kiosk error (device not paired)", "/kiosk/device")
    audit.visit(page, "kiosk pairing", "/kiosk/pair")
    page.fill("#pair-code", "ACDE-3467")
    page.click("form.kiosk-code-form button[type=submit]")
    audit.check(page, "kiosk pairing (wrong code)")
    audit.visit(page, "resident: book at a kiosk", f"/kiosk-booking/{data.kiosk_id}")
    page.goto(home + "/code")
    page.fill("#code", data.kiosk_code)
    page.click("form.kiosk-code-form button[type=submit]")
    page.wait_for_selector("#step-waiting:not([hidden])")
    audit.check(page, "kiosk call: waiting room")
    kiosk_in_call(audit, page, data)
    page.goto("about:blank")


def kiosk_in_call(audit: Audit, page: Page, data: Seeded) -> None:
    """The staff member joins the kiosk visit: both call screens in the call."""
    browser = page.context.browser
    assert browser is not None
    origin = page.url.split("/kiosk/")[0]
    context = browser.new_context(
        base_url=origin,
        locale="ja-JP" if audit.locale == "ja" else "en-US",
        bypass_csp=True,
        viewport={"width": 1280, "height": 900},
    )
    context.add_cookies([{"name": "lang", "value": audit.locale, "url": origin}])
    context.set_default_timeout(30_000)
    try:
        staff = context.new_page()
        _login(staff, STAFF_LOGIN, STAFF_PASSWORD)
        staff.goto(f"/staff/call/{data.kiosk_code}")
        staff.click("#btn-join")
        page.wait_for_selector("#call-app[data-call-state=in-call]", timeout=60_000)
        audit.check(page, "kiosk call: in call")
        staff.wait_for_selector("#call-app[data-call-state=in-call]")
        audit.check(staff, "staff call page: in call")
    finally:
        context.close()


@pytest.mark.parametrize("locale", ["ja", "en"])
def test_every_page_has_no_serious_accessibility_violations(
    locale: str,
    app_in_netns: AppInNetns,
    contexts: Callable[[str], BrowserContext],
    axe_source: str,
) -> None:
    data = seed(app_in_netns)
    audit = Audit(locale, axe_source)
    for part in (resident_pages, join_pages, kiosk_pages, staff_pages, admin_pages):
        # One browser context per part: separate cookies, as for separate people.
        page = contexts(locale).new_page()
        part(audit, page, data)
    print(f"axe-core ({', '.join(AXE_TAGS)}) checked {len(audit.visited)} pages:")
    print("\n".join("  " + v for v in audit.visited))
    if audit.lesser:
        print("moderate/minor findings (not failing):")
        print("\n".join(f"  {key}: {n} element(s)" for key, n in sorted(audit.lesser.items())))
    assert not audit.violations, (
        f"{len(audit.violations)} serious or critical accessibility violations:\n\n"
        + "\n\n".join(audit.violations)
    )


def test_axe_reports_are_readable() -> None:
    """The report shortens signed tokens so failures stay readable (and secret-free)."""
    token = Tokens(SECRET).issue(Purpose.KIOSK, {"k": 1})
    assert _short(f"http://127.0.0.1:8000/kiosk/{token}/code") == "/kiosk/<token>/code"
    join = Tokens(SECRET).issue(Purpose.JOIN, {"room": "r" * 40, "role": "resident"})
    assert join.startswith(".")  # compressed payloads start with a dot
    assert _short(f"http://127.0.0.1:8000/join/{join}") == "/join/<token>"
    assert _short(f"http://127.0.0.1:8000/kiosk/{token}?lang=ja") == "/kiosk/<token>?lang=ja"
    assert _short("http://127.0.0.1:8000/staff/bookings/MDG-ABC234") == (
        "/staff/bookings/MDG-ABC234"
    )
