"""Every route of the app, called by every kind of caller: the documented answers.

The routes come from the app's router table (``app.routes``: the JSON API
and every page) and are checked against the OpenAPI schema. Each is called
as:

* ``owner``: staff of the department that owns the object (市民課, trained
  for the booking's service);
* ``other``: staff of another department (環境課);
* ``admin``: an administrator;
* ``owner_key``, ``other_key``, ``admin_key``: an API key of each account;
* ``resident``: a resident holding a signed link for another object (their
  own booking's manage link: as a bearer credential, and in place of the
  route's own token);
* ``nobody``: no credential at all.

``MATRIX`` holds one entry per route. A route added without an entry fails
``test_every_route_has_an_entry``: its author has to decide who may call it.

Objects named in a path (a booking, an application) are made afresh for each
call, so one caller's change never decides the next caller's answer. Page
forms are posted with the caller's own CSRF token (staff pages: their login's;
resident pages: the browser's), so the answer is the authorization's, not the
CSRF check's; API keys are machine credentials and have no form tokens, so
state-changing pages refuse them (403).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from city_fixtures import NOW, SECRET
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from forms_helpers import TENNYU, add_demo_templates, signature_png
from itsdangerous import TimestampSigner
from scope_helpers import OtherDepartment, add_application, add_booking, add_other_department
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.auth import api_keys
from app.auth.models import StaffSession
from app.auth.sessions import SESSION_ID
from app.calls.models import CallDocument
from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.settings import Settings
from app.core.tokens import Purpose, TokenError
from app.forms.service import Call as FormCall
from app.forms.service import Forms
from app.main import create_app
from app.tracker.audit import Actor
from app.tracker.models import Application, ApplicationDocument, RatingSource
from app.tracker.ratings import rating_token
from app.tracker.record_builder import RecordBuilder
from app.tracker.service import ApplicationService
from app.tracker.status_mail import StatusMail
from scheduler.models import Booking, FormTemplate, Kiosk, Staff
from web import sse

# In-process on SQLite: the answers are the app's, not the database's, and the
# whole table stays a minute's work.
pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)

ACTORS = ("nobody", "resident", "owner", "other", "admin", "owner_key", "other_key", "admin_key")
KEYS = {"owner_key": "staff0", "other_key": "kankyo0", "admin_key": "admin"}
LOGINS = {"owner": "staff0", "other": "kankyo0", "admin": "admin"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
COOKIE = "madoguchi_staff"


# -- the world the calls run in -------------------------------------------------------


@dataclass
class World:
    ctx: AppContext
    city: Any
    other: OtherDepartment
    app: Any
    clients: dict[str, TestClient] = field(default_factory=dict)
    staff_csrf: dict[str, str] = field(default_factory=dict)
    plain_csrf: dict[str, str] = field(default_factory=dict)
    key_values: dict[str, str] = field(default_factory=dict)
    # The form the last ``pushed_form`` made: its id, view hash and the resident's join token.
    last_form: dict[str, Any] = field(default_factory=dict)

    def session(self) -> Session:
        return Session(self.ctx.engine, expire_on_commit=False)

    # Fresh objects of the owner's department (市民課), one per call.
    def booking(self) -> Any:
        with self.session() as s:
            b = add_booking(s, self.city.consult_id, self.city.staff_ids[1])
            s.commit()
            return b

    def record(self) -> int:
        """The session record of a fresh booking's call (a colleague's, 市民課)."""
        b = self.booking()
        with self.session() as s:
            booking = s.get(Booking, b.id)
            assert booking is not None
            record = RecordBuilder(s).sync_booking(booking, NOW)
            s.commit()
            return record.id

    def application(self) -> int:
        with self.session() as s:
            a = add_application(s, self.ctx.links, self.city.dept_id)
            s.commit()
            return a.id

    def document(self) -> tuple[int, int]:
        app_id = self.application()
        with self.session() as s:
            doc = ApplicationDocument(
                application_id=app_id,
                label="住民票",
                requested_at=NOW,
                uploaded_at=NOW,
                filename="a.pdf",
                content_type="application/pdf",
                size=9,
                data=b"%PDF-1.4\n",
            )
            s.add(doc)
            s.commit()
            return app_id, doc.id

    def call_document(self) -> str:
        b = self.booking()
        with self.session() as s:
            doc = CallDocument(
                booking_id=b.id,
                kind="pushed",
                name="form.pdf",
                content_type="application/pdf",
                data=b"%PDF-1.4\n",
                staff_id=b.staff_id,
                created_at=NOW,
                delete_after=NOW + timedelta(days=30),
            )
            s.add(doc)
            s.commit()
            return self.ctx.tokens.issue(Purpose.DOCUMENT, {"d": doc.id}, expires=doc.delete_after)

    def manage_token(self) -> str:
        return self.ctx.links.manage_token(self.booking())

    def call_token(self, room: str) -> str:
        """The resident's seat in a call under way now (a booking's own join link
        opens 15 minutes before its slot, which these bookings are not near)."""
        return self.ctx.links.room_join_token(
            room,
            role="resident",
            pid="resident:matrix",
            name="山田",
            expires=NOW + timedelta(hours=1),
        )

    def pushed_form(self) -> dict[str, Any]:
        """A 転入届 filled in for a fresh booking and pushed to its resident."""
        b = self.booking()
        with self.session() as s:
            if not s.scalars(select(FormTemplate.id)).first():
                add_demo_templates(s, self.city.consult_id)
            booking = s.get(Booking, b.id)
            assert booking is not None
            apps = ApplicationService(s, StatusMail(s, self.ctx.links), NOW)
            forms = Forms(s, NOW, self.ctx.tz, apps)
            actor = Actor(self.city.staff_ids[0])
            template = forms.template("tennyu-todoke")
            form = forms.start(template, FormCall(booking.room_id, booking), actor)
            forms.save(form, 1, TENNYU, actor)
            push = forms.push(form, 2, actor)
            s.commit()
            self.last_form = {
                "form_id": form.id,
                "hash": push.view_hash,
                "join": self.call_token(booking.room_id),
                "code": booking.code,
            }
        return dict(self.last_form)

    def join_token(self) -> str:
        return self.ctx.links.join_token(self.booking())

    def kiosk_token(self) -> str:
        with self.session() as s:
            kiosk = s.get(Kiosk, self.city.kiosk_id)
        return self.ctx.links.kiosk_token(kiosk, expires=NOW + timedelta(days=1))

    def branch_id(self) -> int:
        with self.session() as s:
            kiosk = s.get(Kiosk, self.city.kiosk_id)
            assert kiosk is not None
            return kiosk.branch_id

    def feed_token(self) -> str:
        return self.ctx.tokens.issue(Purpose.FEED, {"s": self.city.staff_ids[0], "v": 1})

    def status_token(self) -> str:
        app_id = self.application()
        with self.session() as s:
            ref = s.get(Application, app_id)
            assert ref is not None
            return self.ctx.links.application_token(app_id, ref.reference)

    def handover_token(self) -> str:
        b = self.booking()
        claims = {"c": b.code, "to": self.city.staff_ids[0], "m": "warm"}
        return self.ctx.tokens.issue(Purpose.HANDOVER, claims, expires=NOW + timedelta(days=2))

    def rating_token(self) -> str:
        """A rating link for the booking's call room (the call has not happened)."""
        return rating_token(self.ctx.links, self.booking().room_id, RatingSource.HOME, NOW)

    def waitlist_token(self) -> str:
        return self.ctx.tokens.issue(
            Purpose.WAITLIST_OFFER, {"w": 999_999}, expires=NOW + timedelta(days=1)
        )


def _session_cookie(world: World, staff_id: int) -> str:
    """A login session made the way ``start_staff_session`` makes one, without the
    production-cost password check of a real login (it would dominate the run)."""
    session_id = f"matrix-{staff_id}-{os.urandom(8).hex()}"
    with world.session() as s:
        s.add(
            StaffSession(
                id_hash=hashlib.sha256(session_id.encode()).hexdigest(),
                staff_id=staff_id,
                created_at=NOW,
            )
        )
        s.commit()
    stamp = int(NOW.timestamp())
    data = {"staff_id": staff_id, SESSION_ID: session_id, "login_at": stamp, "seen_at": stamp}
    payload = base64.b64encode(json.dumps(data).encode())
    return TimestampSigner(SECRET).sign(payload).decode()


def _login(world: World, actor: str) -> None:
    client = world.clients[actor]
    with world.session() as s:
        staff = s.query(Staff).filter_by(login=LOGINS[actor]).one()
    client.cookies.set(COOKIE, _session_cookie(world, staff.id))
    token = CSRF.search(client.get("/staff").text)
    assert token, actor
    world.staff_csrf[actor] = token.group(1)


@pytest.fixture
def world(
    city_engine: tuple[Engine, Any], clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    # Event streams end after their first event: the answer is what is checked.
    monkeypatch.setattr(sse, "DEFAULT_TIMING", sse.Timing(stream_seconds=0.0))
    engine, city = city_engine
    other = add_other_department(engine)
    keys = {actor: api_keys.new_key() for actor in KEYS}
    settings = Settings(
        secret_key=SECRET,
        public_base_url="http://127.0.0.1:8000",
        database_url="sqlite://",
        api_keys=[api_keys.config_entry(KEYS[a], k) for a, k in keys.items()],
    )
    ctx = AppContext(settings=settings, engine=engine, clock=clock)
    app = create_app(ctx)
    w = World(ctx, city, other, app, key_values=keys)
    with TestClient(app) as first:
        w.clients["nobody"] = first
        for actor in ACTORS[1:]:
            w.clients[actor] = TestClient(app)
        for actor in ACTORS:
            token = CSRF.search(w.clients[actor].get("/staff/login").text)
            assert token
            w.plain_csrf[actor] = token.group(1)
        for actor in LOGINS:
            _login(w, actor)
        yield w


# -- the table ----------------------------------------------------------------------

Expect = dict[str, int]


def _row(
    nobody: int,
    resident: int,
    owner: int,
    other: int,
    admin: int,
    owner_key: int | None = None,
    other_key: int | None = None,
    admin_key: int | None = None,
) -> Expect:
    return {
        "nobody": nobody,
        "resident": resident,
        "owner": owner,
        "other": other,
        "admin": admin,
        "owner_key": owner if owner_key is None else owner_key,
        "other_key": other if other_key is None else other_key,
        "admin_key": admin if admin_key is None else admin_key,
    }


def public(ok: int = 200) -> Expect:
    """No credential needed; every caller gets the same answer."""
    return _row(ok, ok, ok, ok, ok)


def staff(ok: int = 200, nobody: int = 401) -> Expect:
    """Any logged-in staff member or key; the scope does not apply (their own things)."""
    return _row(nobody, nobody, ok, ok, ok)


def dept(ok: int = 200, nobody: int = 401) -> Expect:
    """The owning department's staff and the administrator; other departments 403."""
    return _row(nobody, nobody, ok, 403, ok)


def admin_only(ok: int = 200, nobody: int = 401) -> Expect:
    return _row(nobody, nobody, 403, 403, ok)


def link(ok: int = 200, refused: int = 403) -> Expect:
    """A signed link is the credential: whoever holds it; the resident's link for
    another object (another purpose) is refused."""
    return _row(ok, refused, ok, ok, ok)


def page_form(expect: Expect) -> Expect:
    """A page's form: API keys carry no form token, so 403 for them."""
    return {**expect, "owner_key": 403, "other_key": 403, "admin_key": 403}


def browser_only(ok: int = 200, nobody: int = 401) -> Expect:
    """A login cookie (or a link), not an API key."""
    return _row(nobody, nobody, ok, ok, ok, nobody, nobody, nobody)


# Kiosk screens beyond the start page need this kiosk's own ticket, call or
# paired device: a bare kiosk link is refused for everyone.
KIOSK_REFUSED = link(403)
_unknown = itertools.count()


def unknown_login() -> str:
    """A login no one has, fresh each time: repeated failures would lock one out (429)."""
    return f"nobody{next(_unknown)}"


@dataclass(frozen=True)
class Call:
    expect: Expect
    # Path parameters (made afresh for each call) and the request's body.
    fill: Callable[[World], dict[str, Any]] = lambda w: {}
    json: Callable[[World], Any] | None = None
    data: Callable[[World], dict[str, str]] | None = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: Callable[[World], dict[str, Any]] | None = None
    # The resident's call credential (``X-Join-Token``) for the object ``fill`` made.
    join_header: bool = False


def code(w: World) -> dict[str, Any]:
    return {"code": w.booking().code}


def application_id(w: World) -> dict[str, Any]:
    return {"application_id": w.application()}


def token_of(make: Callable[[World], str]) -> Callable[[World], dict[str, Any]]:
    return lambda w: {"token": make(w)}


DAY = (NOW + timedelta(days=1)).date().isoformat()
PAST_SLOT = "2026-11-02T10:00:00+09:00"  # before "now": no longer bookable
PAGE = 303  # a staff page without a login redirects to the login form


def _ids(**values: Callable[[World], Any]) -> Callable[[World], dict[str, Any]]:
    return lambda w: {k: f(w) for k, f in values.items()}


OWNER_ID: Callable[[World], Any] = lambda w: w.city.staff_ids[0]  # noqa: E731
DEPT_A: Callable[[World], Any] = lambda w: w.city.dept_id  # noqa: E731
NONE_ID: Callable[[World], Any] = lambda w: 999_999  # noqa: E731
RECORD: Callable[[World], Any] = World.record
ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nEND:VCALENDAR\r\n"
PDF = b"%PDF-1.4\n% a form\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
NEW_APPLICATION: Callable[[World], Any] = lambda w: {  # noqa: E731
    "procedure": "転入届",
    "resident_name": "山田 太郎",
    "department_id": w.city.dept_id,
}

MATRIX: dict[tuple[str, str], Call] = {
    # -- operations and public reads
    ("GET", "/livez"): Call(public()),
    ("GET", "/readyz"): Call(public()),
    ("GET", "/metrics"): Call(public()),
    ("GET", "/healthz"): Call(public()),
    ("GET", "/api/v1/departments"): Call(public()),
    ("GET", "/api/v1/services/{service_id}/availability"): Call(
        public(),
        _ids(service_id=lambda w: w.city.consult_id),
        params=lambda w: {"from": DAY, "to": DAY},
    ),
    ("GET", "/api/v1/rtc-config"): Call(public()),
    ("GET", "/api/v1/interpreter-languages"): Call(public()),
    # -- a resident's booking, by its signed manage link
    ("POST", "/api/v1/bookings"): Call(public(422), json=lambda w: {}),
    ("GET", "/api/v1/bookings/{token}"): Call(link(), token_of(World.manage_token)),
    ("POST", "/api/v1/bookings/{token}/cancel"): Call(link(), token_of(World.manage_token)),
    ("POST", "/api/v1/bookings/{token}/reschedule"): Call(
        link(409), token_of(World.manage_token), json=lambda w: {"start": PAST_SLOT}
    ),
    ("GET", "/api/v1/bookings/{token}/booking.ics"): Call(link(), token_of(World.manage_token)),
    ("POST", "/api/v1/waitlist"): Call(public(422), json=lambda w: {}),
    # -- the rush queue: anyone may queue; the test city's service has no queue (409), and
    # a ticket is a signed token (a forged one: 403 for everyone)
    ("POST", "/api/v1/rush/services/{service_id}/tickets"): Call(
        public(409), _ids(service_id=lambda w: w.city.consult_id)
    ),
    ("GET", "/api/v1/rush/tickets/{ticket}"): Call(public(403), _ids(ticket=lambda w: "forged")),
    ("POST", "/api/v1/waitlist/offers/{token}/claim"): Call(
        link(409), token_of(World.waitlist_token)
    ),
    ("GET", "/api/v1/calendar/staff/{token}/feed.ics"): Call(link(), token_of(World.feed_token)),
    # -- staff login
    ("POST", "/api/v1/auth/login"): Call(
        public(401), json=lambda w: {"login": unknown_login(), "password": "wrong"}
    ),
    ("POST", "/api/v1/auth/logout"): Call(public(204)),
    ("GET", "/api/v1/auth/me"): Call(staff()),
    # -- bookings on behalf, slips, busy time, join tickets
    ("POST", "/api/v1/staff/bookings"): Call(staff(422), json=lambda w: {}),
    ("GET", "/api/v1/staff/bookings/{code}/slip"): Call(dept(), code),
    ("PUT", "/api/v1/staff/{staff_id}/busy"): Call(
        dept(), _ids(staff_id=OWNER_ID), content=ICS, headers={"content-type": "text/calendar"}
    ),
    ("POST", "/api/v1/staff/{staff_id}/busy/sync"): Call(dept(422), _ids(staff_id=OWNER_ID)),
    ("POST", "/api/v1/staff/bookings/{code}/join"): Call(dept(), code),
    # -- the counter: kiosks, presence, offers, walk-in calls
    ("POST", "/api/v1/kiosk/{token}/tickets"): Call(
        link(201), token_of(World.kiosk_token), json=lambda w: {"service_id": w.city.consult_id}
    ),
    ("GET", "/api/v1/kiosk/{token}/tickets/{ticket_id}"): Call(
        link(409), lambda w: {"token": w.kiosk_token(), "ticket_id": 999_999}
    ),
    ("DELETE", "/api/v1/kiosk/{token}/tickets/{ticket_id}"): Call(
        link(409), lambda w: {"token": w.kiosk_token(), "ticket_id": 999_999}
    ),
    ("PUT", "/api/v1/staff/presence"): Call(staff(), json=lambda w: {"status": "away"}),
    ("GET", "/api/v1/staff/offers"): Call(staff()),
    ("POST", "/api/v1/staff/offers/{offer_id}/accept"): Call(staff(409), _ids(offer_id=NONE_ID)),
    ("POST", "/api/v1/staff/offers/{offer_id}/decline"): Call(staff(409), _ids(offer_id=NONE_ID)),
    ("POST", "/api/v1/staff/presence/heartbeat"): Call(staff(204)),
    ("POST", "/api/v1/staff/handover-offers/{offer_id}/accept"): Call(
        staff(409), _ids(offer_id=NONE_ID)
    ),
    ("POST", "/api/v1/staff/handover-offers/{offer_id}/decline"): Call(
        staff(409), _ids(offer_id=NONE_ID)
    ),
    ("POST", "/api/v1/staff/counter/tickets/{ticket_id}/handover"): Call(
        staff(409),
        _ids(ticket_id=NONE_ID),
        json=lambda w: {"mode": "warm", "department_id": w.city.dept_id},
    ),
    ("POST", "/api/v1/staff/counter/tickets/{ticket_id}/join"): Call(
        staff(409), _ids(ticket_id=NONE_ID)
    ),
    ("POST", "/api/v1/staff/counter/tickets/{ticket_id}/finish"): Call(
        staff(409), _ids(ticket_id=NONE_ID)
    ),
    ("GET", "/api/v1/staff/counter/board"): Call(admin_only()),
    # -- applications
    ("GET", "/api/v1/staff/applications"): Call(staff()),
    ("GET", "/api/v1/staff/applications/export.csv"): Call(staff()),
    ("POST", "/api/v1/staff/applications"): Call(dept(201), json=NEW_APPLICATION),
    ("GET", "/api/v1/staff/applications/{application_id}"): Call(dept(), application_id),
    ("POST", "/api/v1/staff/applications/{application_id}/status"): Call(
        dept(), application_id, json=lambda w: {"status": "in_progress"}
    ),
    ("POST", "/api/v1/staff/applications/{application_id}/assign"): Call(
        dept(), application_id, json=lambda w: {"assignee_id": w.city.staff_ids[1]}
    ),
    ("POST", "/api/v1/staff/applications/{application_id}/sessions"): Call(
        dept(), application_id, json=lambda w: {"booking_id": w.booking().id}
    ),
    # -- interpreters, call team, documents
    ("GET", "/api/v1/staff/interpreters/available"): Call(
        staff(), params=lambda w: {"language": "pt"}
    ),
    ("POST", "/api/v1/staff/counter/tickets/{ticket_id}/interpreter"): Call(
        staff(409), _ids(ticket_id=NONE_ID), json=lambda w: {"language": "pt"}
    ),
    ("POST", "/api/v1/staff/bookings/{code}/interpreter"): Call(
        dept(422), code, json=lambda w: {"language": "pt"}
    ),
    ("DELETE", "/api/v1/staff/interpreter-calls/{call_id}"): Call(
        staff(403), _ids(call_id=NONE_ID)
    ),
    ("POST", "/api/v1/staff/bookings/{code}/invite"): Call(
        dept(201), code, json=lambda w: {"role": "interpreter", "name": "Ana Souza"}
    ),
    ("POST", "/api/v1/staff/counter/tickets/{ticket_id}/invite"): Call(
        staff(404),
        _ids(ticket_id=NONE_ID),
        json=lambda w: {"role": "interpreter", "name": "Ana Souza"},
    ),
    ("POST", "/api/v1/staff/bookings/{code}/handover"): Call(
        dept(201), code, json=lambda w: {"mode": "warm", "staff_id": w.city.staff_ids[2]}
    ),
    # Only the colleague the call was handed to (staff0 here), with their own login.
    ("POST", "/api/v1/staff/handover/{token}/join"): Call(
        _row(401, 401, 200, 403, 403), token_of(World.handover_token)
    ),
    ("POST", "/api/v1/staff/bookings/{code}/photos"): Call(
        dept(409), code, content=PNG, headers={"content-type": "image/png"}
    ),
    ("POST", "/api/v1/staff/bookings/{code}/documents"): Call(
        dept(201),
        code,
        content=PDF,
        headers={"content-type": "application/pdf"},
        params=lambda w: {"name": "form.pdf"},
    ),
    ("GET", "/api/v1/documents/{token}"): Call(link(), token_of(World.call_document)),
    # -- forms during a call (docs/forms.md)
    ("GET", "/api/v1/staff/forms/templates"): Call(staff()),
    ("GET", "/api/v1/staff/forms/templates/{slug}"): Call(
        staff(), lambda w: {**w.pushed_form(), "slug": "tennyu-todoke"}
    ),
    ("POST", "/api/v1/staff/forms"): Call(
        dept(201),
        World.pushed_form,
        json=lambda w: {"template": "tennyu-todoke", "booking_code": w.last_form["code"]},
    ),
    ("GET", "/api/v1/staff/forms"): Call(
        dept(), World.pushed_form, params=lambda w: {"booking_code": w.last_form["code"]}
    ),
    ("GET", "/api/v1/staff/forms/{form_id}"): Call(dept(), World.pushed_form),
    ("PUT", "/api/v1/staff/forms/{form_id}"): Call(
        dept(), World.pushed_form, json=lambda w: {"version": 2, "values": {}}
    ),
    ("POST", "/api/v1/staff/forms/{form_id}/push"): Call(
        dept(), World.pushed_form, json=lambda w: {"version": 2}
    ),
    # Not signed yet.
    ("GET", "/api/v1/staff/forms/{form_id}/pdf"): Call(dept(409), World.pushed_form),
    # The resident's join token for the form's call is the credential, whoever sends it.
    ("GET", "/api/v1/call/forms/{form_id}"): Call(link(), World.pushed_form, join_header=True),
    ("POST", "/api/v1/call/forms/{form_id}/pages/{page}/confirm"): Call(
        link(),
        lambda w: {**w.pushed_form(), "page": 0},
        json=lambda w: {"view_hash": w.last_form["hash"]},
        join_header=True,
    ),
    # Refused until every page is confirmed.
    ("POST", "/api/v1/call/forms/{form_id}/signature"): Call(
        link(409),
        World.pushed_form,
        content=signature_png(),
        headers={"content-type": "image/png"},
        params=lambda w: {"view_hash": w.last_form["hash"]},
        join_header=True,
    ),
    ("POST", "/api/v1/call/forms/{form_id}/decline"): Call(
        link(),
        World.pushed_form,
        json=lambda w: {"view_hash": w.last_form["hash"]},
        join_header=True,
    ),
    ("GET", "/api/v1/status/{token}/forms"): Call(link(), token_of(World.status_token)),
    # The camera check is for browsers: a staff login or a join link, not an API key.
    ("POST", "/api/v1/precheck"): Call(browser_only(422)),
    ("GET", "/api/v1/precheck/{check_id}"): Call(
        browser_only(404), _ids(check_id=lambda w: "none")
    ),
    ("DELETE", "/api/v1/precheck/{check_id}"): Call(
        browser_only(404), _ids(check_id=lambda w: "none")
    ),
}


KIOSK_ID: Callable[[World], Any] = lambda w: w.city.kiosk_id  # noqa: E731
STAFF1: Callable[[World], Any] = lambda w: w.city.staff_ids[1]  # noqa: E731


def doc_ids(w: World) -> dict[str, Any]:
    app_id, doc_id = w.document()
    return {"application_id": app_id, "document_id": doc_id}


def status_doc(w: World) -> dict[str, Any]:
    token = w.status_token()
    claims = w.ctx.tokens.verify(Purpose.APPLICATION, token, now=NOW)
    app_id, doc_id = claims["a"], None
    with w.session() as s:
        doc = ApplicationDocument(application_id=app_id, label="住民票", requested_at=NOW)
        s.add(doc)
        s.commit()
        doc_id = doc.id
    return {"token": token, "document_id": doc_id}


def kiosk_and(**more: Callable[[World], Any]) -> Callable[[World], dict[str, Any]]:
    return lambda w: {"token": w.kiosk_token(), **{k: f(w) for k, f in more.items()}}


MATRIX.update(
    {
        # -- staff login pages
        ("GET", "/staff/login"): Call(_row(200, 200, 303, 303, 303, 200, 200, 200)),
        ("POST", "/staff/login"): Call(
            page_form(public(401)), data=lambda w: {"login": unknown_login(), "password": "wrong"}
        ),
        ("POST", "/staff/logout"): Call(public(303)),
        # -- the staff console
        ("GET", "/staff"): Call(staff(200, PAGE)),
        # Event streams follow the login cookie only.
        ("GET", "/staff/queue/events"): Call(browser_only(200, PAGE)),
        ("GET", "/staff/bookings/{code}"): Call(dept(200, PAGE), code),
        ("POST", "/staff/bookings/{code}/notes"): Call(
            page_form(dept(303, PAGE)), code, data=lambda w: {"notes": "メモ"}
        ),
        ("POST", "/staff/bookings/{code}/outcome"): Call(
            page_form(dept(303, PAGE)), code, data=lambda w: {"outcome": "completed"}
        ),
        ("GET", "/staff/schedule"): Call(staff(200, PAGE)),
        ("POST", "/staff/feed/regenerate"): Call(page_form(staff(303, PAGE))),
        ("GET", "/staff/counter"): Call(staff(200, PAGE)),
        ("GET", "/staff/counter/events"): Call(browser_only(200, PAGE)),
        ("GET", "/staff/counter/call/{ticket_id}"): Call(staff(404, PAGE), _ids(ticket_id=NONE_ID)),
        ("GET", "/staff/dashboard"): Call(staff(200, PAGE)),
        # Records of single calls: a department's for its staff, the city's for admins.
        ("GET", "/staff/dashboard/records.csv"): Call(
            dept(200, PAGE), params=lambda w: {"department_id": DEPT_A(w)}
        ),
        # Sign-in through the city's directory: not set up in this city.
        ("GET", "/staff/login/oidc"): Call(public(404)),
        ("GET", "/staff/login/oidc/callback"): Call(public(404)),
        # LINE: no channel in this city.
        ("GET", "/line/login"): Call(public(404)),
        ("GET", "/line/login/callback"): Call(public(404)),
        ("POST", "/line/webhook"): Call(public(404), content=b"{}"),
        # A rating link is the credential; the call it names never happened here,
        # so a rating is refused as invalid (422), and by API keys for want of a form token.
        ("GET", "/rate/{token}"): Call(link(200), token_of(World.rating_token)),
        ("POST", "/rate/{token}"): Call(
            page_form(link(422)), token_of(World.rating_token), data=lambda w: {"stars": "5"}
        ),
        # -- application pages
        ("GET", "/staff/applications"): Call(staff(200, PAGE)),
        ("GET", "/staff/applications/{application_id}"): Call(dept(200, PAGE), application_id),
        ("POST", "/staff/applications/{application_id}/status"): Call(
            page_form(dept(303, PAGE)), application_id, data=lambda w: {"status": "in_progress"}
        ),
        ("POST", "/staff/applications/{application_id}/assignment"): Call(
            page_form(dept(303, PAGE)),
            application_id,
            data=lambda w: {"assignee_id": str(w.city.staff_ids[1])},
        ),
        ("POST", "/staff/applications/{application_id}/documents"): Call(
            page_form(dept(303, PAGE)), application_id, data=lambda w: {"label": "住民票"}
        ),
        ("GET", "/staff/applications/{application_id}/documents/{document_id}"): Call(
            dept(200, PAGE), doc_ids
        ),
        ("POST", "/staff/applications"): Call(
            page_form(dept(303, PAGE)),
            data=lambda w: {
                "procedure": "転入届",
                "resident_name": "山田 太郎",
                "department_id": str(w.city.dept_id),
            },
        ),
        ("POST", "/staff/applications/{application_id}/sessions"): Call(
            page_form(dept(303, PAGE)),
            application_id,
            data=lambda w: {"booking_code": w.booking().code},
        ),
        # -- session records and the wrap-up of every call (booked or walk-in)
        ("GET", "/staff/records"): Call(staff(200, PAGE)),
        ("GET", "/staff/records/{record_id}"): Call(dept(200, PAGE), _ids(record_id=RECORD)),
        ("GET", "/staff/records/{record_id}/wrapup"): Call(dept(200, PAGE), _ids(record_id=RECORD)),
        ("POST", "/staff/records/{record_id}/wrapup"): Call(
            page_form(dept(303, PAGE)),
            _ids(record_id=RECORD),
            data=lambda w: {"outcome": "completed"},
        ),
        ("GET", "/staff/call/{code}/wrapup"): Call(dept(303, PAGE), code),
        ("GET", "/staff/counter/call/{ticket_id}/wrapup"): Call(
            staff(404, PAGE), _ids(ticket_id=NONE_ID)
        ),
        # -- a call's page
        ("GET", "/staff/call/{code}"): Call(dept(200, PAGE), code),
        ("GET", "/staff/call/{code}/state"): Call(dept(200, PAGE), code),
        ("POST", "/staff/call/{code}/finish"): Call(
            page_form(dept(303, PAGE)), code, data=lambda w: {"outcome": "completed"}
        ),
        # -- administration
        ("GET", "/admin/{kind}/{owner_id}/hours"): Call(
            admin_only(200, PAGE), _ids(kind=lambda w: "departments", owner_id=DEPT_A)
        ),
        ("POST", "/admin/{kind}/{owner_id}/hours"): Call(
            page_form(admin_only(303, PAGE)), _ids(kind=lambda w: "departments", owner_id=DEPT_A)
        ),
        ("POST", "/admin/{kind}/{owner_id}/overrides"): Call(
            page_form(admin_only(422, PAGE)), _ids(kind=lambda w: "departments", owner_id=DEPT_A)
        ),
        ("POST", "/admin/{kind}/{owner_id}/overrides/{day}/delete"): Call(
            page_form(admin_only(303, PAGE)),
            _ids(kind=lambda w: "departments", owner_id=DEPT_A, day=lambda w: DAY),
        ),
        ("POST", "/admin/staff/{staff_id}/leave"): Call(
            page_form(admin_only(422, PAGE)), _ids(staff_id=STAFF1)
        ),
        ("POST", "/admin/staff/{staff_id}/leave/{leave_id}/delete"): Call(
            page_form(admin_only(303, PAGE)), _ids(staff_id=STAFF1, leave_id=NONE_ID)
        ),
        ("GET", "/admin/city"): Call(admin_only(200, PAGE)),
        ("POST", "/admin/city"): Call(page_form(admin_only(422, PAGE))),
        ("POST", "/admin/city/closures"): Call(page_form(admin_only(422, PAGE))),
        ("POST", "/admin/city/closures/{day}/delete"): Call(
            page_form(admin_only(303, PAGE)), _ids(day=lambda w: DAY)
        ),
        ("GET", "/admin/import"): Call(admin_only(200, PAGE)),
        ("POST", "/admin/import"): Call(page_form(admin_only(422, PAGE))),
        ("GET", "/admin/outbox"): Call(admin_only(200, PAGE)),
        ("POST", "/admin/outbox/{row_id}/retry"): Call(
            page_form(admin_only(303, PAGE)), _ids(row_id=NONE_ID)
        ),
        ("GET", "/admin"): Call(admin_only(200, PAGE)),
        ("GET", "/admin/audit"): Call(admin_only(200, PAGE)),
        ("GET", "/admin/audit.csv"): Call(admin_only(200, PAGE)),
        ("GET", "/admin/kiosk-status"): Call(admin_only(200, PAGE)),
        ("GET", "/admin/kiosk-status/rows"): Call(admin_only(200, PAGE)),
        ("POST", "/admin/kiosks/{kiosk_id}/pairing"): Call(
            page_form(admin_only(200, PAGE)), _ids(kiosk_id=KIOSK_ID)
        ),
        ("POST", "/admin/kiosks/{kiosk_id}/revoke"): Call(
            page_form(admin_only(303, PAGE)), _ids(kiosk_id=KIOSK_ID)
        ),
        ("GET", "/admin/kiosks/{kiosk_id}/open"): Call(
            admin_only(303, PAGE), _ids(kiosk_id=KIOSK_ID)
        ),
        ("POST", "/admin/staff/{row_id}/sessions/revoke"): Call(
            page_form(admin_only(303, PAGE)), _ids(row_id=STAFF1)
        ),
        # -- kiosks
        ("GET", "/kiosk/pair"): Call(public()),
        ("POST", "/kiosk/pair"): Call(public(403)),
        ("POST", "/kiosk/device/heartbeat"): Call(public(401)),
        ("GET", "/kiosk/{token}"): Call(link(), kiosk_and()),
        ("GET", "/kiosk/{token}/menu"): Call(link(), kiosk_and()),
        ("GET", "/kiosk/{token}/code"): Call(link(), kiosk_and()),
        ("POST", "/kiosk/{token}/code"): Call(
            KIOSK_REFUSED, kiosk_and(), data=lambda w: {"code": "X"}
        ),
        ("GET", "/kiosk/{token}/walk-in"): Call(link(), kiosk_and()),
        ("GET", "/kiosk/{token}/call/{join_token}"): Call(
            KIOSK_REFUSED, kiosk_and(join_token=World.join_token)
        ),
        ("POST", "/kiosk/{token}/walk-in/ticket"): Call(
            KIOSK_REFUSED, kiosk_and(), data=lambda w: {"service_id": str(w.city.consult_id)}
        ),
        ("GET", "/kiosk/{token}/ticket/{ticket_id}"): Call(
            KIOSK_REFUSED, kiosk_and(ticket_id=NONE_ID)
        ),
        ("POST", "/kiosk/{token}/ticket/{ticket_id}/leave"): Call(
            KIOSK_REFUSED, kiosk_and(ticket_id=NONE_ID)
        ),
        ("GET", "/kiosk/{token}/ticket/{ticket_id}/call"): Call(
            KIOSK_REFUSED, kiosk_and(ticket_id=NONE_ID)
        ),
        # "Your ticket is cancelled" shows only a ticket of this kiosk that was
        # cancelled; any other number sends the screen back to its start (303).
        ("GET", "/kiosk/{token}/ticket/{ticket_id}/left"): Call(
            link(303), kiosk_and(ticket_id=NONE_ID)
        ),
        # -- residents
        ("GET", "/join/{token}"): Call(link(), token_of(World.join_token)),
        ("GET", "/manage/{token}"): Call(link(), token_of(World.manage_token)),
        ("GET", "/manage/{token}/cancel"): Call(link(), token_of(World.manage_token)),
        ("POST", "/manage/{token}/cancel"): Call(
            page_form(link(303)), token_of(World.manage_token)
        ),
        ("GET", "/manage/{token}/change"): Call(link(), token_of(World.manage_token)),
        ("GET", "/manage/{token}/change/{day}"): Call(
            link(), lambda w: {"token": w.manage_token(), "day": DAY}
        ),
        ("POST", "/manage/{token}/change"): Call(
            page_form(link(303)), token_of(World.manage_token), data=lambda w: {"start": ""}
        ),
        ("GET", "/waitlist/offers/{token}"): Call(link(404), token_of(World.waitlist_token)),
        ("POST", "/waitlist/offers/{token}"): Call(
            page_form(link(404)), token_of(World.waitlist_token)
        ),
        ("GET", "/kiosk-booking/{kiosk_id}"): Call(public(), _ids(kiosk_id=KIOSK_ID)),
        ("GET", "/"): Call(public()),
        ("GET", "/departments/{slug}"): Call(public(), _ids(slug=lambda w: "shimin")),
        ("GET", "/services/{service_id}"): Call(
            public(), _ids(service_id=lambda w: w.city.consult_id)
        ),
        ("GET", "/services/{service_id}/day/{day}"): Call(
            public(), _ids(service_id=lambda w: w.city.consult_id, day=lambda w: DAY)
        ),
        ("GET", "/services/{service_id}/book"): Call(
            public(303), _ids(service_id=lambda w: w.city.consult_id)
        ),
        ("POST", "/services/{service_id}/book"): Call(
            page_form(public(303)), _ids(service_id=lambda w: w.city.consult_id)
        ),
        ("GET", "/waitlist"): Call(public(303)),
        # The rush queue's pages: a service without a queue sends everyone on to booking;
        # a forged ticket gets its own page (never an error page).
        ("GET", "/rush/{service_id}"): Call(
            public(303), _ids(service_id=lambda w: w.city.consult_id)
        ),
        ("POST", "/rush/{service_id}"): Call(
            page_form(public(303)), _ids(service_id=lambda w: w.city.consult_id)
        ),
        ("GET", "/rush/wait/{ticket}"): Call(public(200), _ids(ticket=lambda w: "forged")),
        ("POST", "/waitlist"): Call(page_form(public(404))),
        ("GET", "/status/{token}"): Call(link(), token_of(World.status_token)),
        ("POST", "/status/{token}/reply"): Call(
            page_form(link(303)),
            token_of(World.status_token),
            data=lambda w: {"message": "届きました"},
        ),
        # Without a file: 404 for every holder of a link (the resident's too).
        ("POST", "/status/{token}/documents/{document_id}"): Call(
            page_form(link(404, refused=404)), status_doc
        ),
    }
)

_EDITOR_ROWS: dict[str, Callable[[World], Any]] = {
    "departments": DEPT_A,
    "services": lambda w: w.city.consult_id,
    "staff": STAFF1,
    "branches": lambda w: w.branch_id(),
    "kiosks": KIOSK_ID,
}
# Rows that do not exist in the test city: the administrator's answer is 404.
_EDITOR_MISSING: dict[str, Callable[[World], Any]] = {
    "interpreter-languages": lambda w: "pt",
    "interpreters": NONE_ID,
}
for _path, _row_id in _EDITOR_ROWS.items():
    MATRIX.update(
        {
            ("GET", f"/admin/{_path}"): Call(admin_only(200, PAGE)),
            ("GET", f"/admin/{_path}/new"): Call(admin_only(200, PAGE)),
            ("POST", f"/admin/{_path}/new"): Call(page_form(admin_only(422, PAGE))),
            ("GET", f"/admin/{_path}/{{row_id}}"): Call(
                admin_only(200, PAGE), _ids(row_id=_row_id)
            ),
            ("POST", f"/admin/{_path}/{{row_id}}"): Call(
                page_form(admin_only(422, PAGE)), _ids(row_id=_row_id)
            ),
        }
    )
for _path, _row_id in _EDITOR_MISSING.items():
    MATRIX.update(
        {
            ("GET", f"/admin/{_path}"): Call(admin_only(200, PAGE)),
            ("GET", f"/admin/{_path}/new"): Call(admin_only(200, PAGE)),
            ("POST", f"/admin/{_path}/new"): Call(page_form(admin_only(422, PAGE))),
            ("GET", f"/admin/{_path}/{{row_id}}"): Call(
                admin_only(404, PAGE), _ids(row_id=_row_id)
            ),
            # The row is looked up (owner_or_404) before the form token is
            # checked: an administrator's key learns no more than the
            # administrator, who may see every row anyway.
            ("POST", f"/admin/{_path}/{{row_id}}"): Call(
                {**page_form(admin_only(404, PAGE)), "admin_key": 404}, _ids(row_id=_row_id)
            ),
        }
    )


# -- running the calls ---------------------------------------------------------------


def _routes(app: Any) -> list[tuple[str, str, Any]]:
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue  # /openapi.json, /docs, /static: FastAPI's and Starlette's own
        for method in sorted(route.methods):
            # As the OpenAPI schema names it: "{form_id:int}" is "{form_id}".
            found.append((method, re.sub(r":\w+}", "}", str(context.path)), route))
    return found


def _resident_token(w: World, route_token: str | None) -> str:
    """A real link of the resident's, for another object: a manage link where the
    route takes any other token, a join link where it takes a manage link."""
    manage = w.manage_token()
    if route_token is None:
        return manage
    try:
        w.ctx.tokens.verify(Purpose.MANAGE, route_token, now=NOW)
    except TokenError:
        return manage
    return w.join_token()


def call(w: World, method: str, path: str, actor: str, spec: Call) -> int:
    params = spec.fill(w)
    if actor == "resident":
        for name in ("token", "join_token"):
            if name in params:
                params[name] = _resident_token(w, params[name])
    url = path.format(**params)
    headers = dict(spec.headers)
    if spec.join_header:
        # The resident's own join token names their own call, not this one.
        other_call = w.call_token(w.booking().room_id)
        headers["X-Join-Token"] = other_call if actor == "resident" else params["join"]
    if actor == "resident":
        headers["Authorization"] = f"Bearer {_resident_token(w, None)}"
    if actor in KEYS:
        headers["Authorization"] = f"Bearer {w.key_values[actor]}"
    client = w.clients[actor]
    kwargs: dict[str, Any] = {"headers": headers, "follow_redirects": False}
    if spec.json is not None:
        kwargs["json"] = spec.json(w)
    if spec.content is not None:
        kwargs["content"] = spec.content
    if spec.params is not None:
        kwargs["params"] = spec.params(w)
    if method == "POST" and not path.startswith("/api/") and not path.startswith("/kiosk/device"):
        form = spec.data(w) if spec.data is not None else {}
        staff_page = path.startswith(("/staff", "/admin")) and path != "/staff/login"
        token = (w.staff_csrf if staff_page else w.plain_csrf).get(actor)
        if token is not None and actor not in KEYS:
            form["csrf_token"] = token
        kwargs["data"] = form
    elif spec.data is not None:
        kwargs["data"] = spec.data(w)
    response = client.request(method, url, **kwargs)
    if path.endswith("/logout") and actor in LOGINS:
        _login(w, actor)  # the next route needs the session this one ended
    return response.status_code


def test_every_route_has_an_entry(world: World) -> None:
    routes = {(m, p) for m, p, _ in _routes(world.app)}
    missing = sorted(routes - MATRIX.keys())
    stale = sorted(MATRIX.keys() - routes)
    assert not missing, f"routes without an entry in MATRIX: {missing}"
    assert not stale, f"entries for routes that do not exist: {stale}"


def test_the_openapi_schema_lists_exactly_the_documented_api_routes(world: World) -> None:
    schema = world.app.openapi()
    documented = {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
    }
    in_schema = {(m, p) for m, p, r in _routes(world.app) if r.include_in_schema}
    assert documented == in_schema
    assert documented <= MATRIX.keys()


def test_every_caller_gets_the_documented_answer(world: World) -> None:
    record = os.environ.get("MATRIX_RECORD") == "1"
    wrong: list[str] = []
    for method, path, _ in _routes(world.app):
        spec = MATRIX.get((method, path))
        if spec is None and not record:
            continue  # reported by test_every_route_has_an_entry
        spec = spec or Call(public())
        got = {actor: call(world, method, path, actor, spec) for actor in ACTORS}
        if record:
            print(f"REC {method} {path} {got}")
        if got != spec.expect:
            diff = {a: (spec.expect[a], got[a]) for a in ACTORS if got[a] != spec.expect[a]}
            wrong.append(f"{method} {path}: (expected, got) {diff}")
    assert not wrong, "\n".join(wrong)
