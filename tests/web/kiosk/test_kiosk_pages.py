"""Kiosk screen: signed kiosk links, staffed hours, booking-code entry, walk-in page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from kiosk_page_helpers import ELEVEN, kiosk_path, submit_code
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.settings import Settings
from app.core.tokens import Purpose
from scheduler.models import Booking, Branch, Kiosk
from scheduler.service import BookingRequest, SchedulingService
from scheduler.types import Channel
from web import csrf

# Monday 2026-11-30: the MiniCity clock starts at 09:00 JST.
JST_OFFSET = "+09:00"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def jst(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - timedelta(hours=9)


def book(
    ctx: AppContext,
    service_id: int,
    start: datetime,
    *,
    channel: Channel = Channel.KIOSK,
    kiosk_id: int | None = None,
) -> Booking:
    with Session(ctx.engine, expire_on_commit=False) as session:
        svc = SchedulingService(session, tz=ctx.tz)
        booking = svc.book(
            BookingRequest(
                service_id=service_id,
                start=start,
                channel=channel,
                name="山田 花子",
                email="hanako@example.jp",
                kiosk_id=kiosk_id if channel is Channel.KIOSK else None,
            ),
            start - timedelta(days=1),
        )
        session.commit()
        return booking


def problem_of(html: str) -> str:
    match = re.search(r'data-problem="([a-z-]+)"', html)
    assert match, "no problem shown"
    return match.group(1)


def login(client: TestClient, who: str) -> None:
    token = CSRF.search(client.get("/staff/login").text)
    assert token
    r = client.post(
        "/staff/login",
        data={"login": who, "password": "pw", "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303


# -- the kiosk link ----------------------------------------------------------------------------


def test_start_screen_of_a_valid_link(client: TestClient, ctx: AppContext, city: Any) -> None:
    r = client.get(kiosk_path(ctx, city.kiosk_id) + "?lang=ja")
    assert r.status_code == 200
    assert '<html lang="ja">' in r.text
    assert "北支所" in r.text and "タッチして始めてください" in r.text
    assert r.headers["cache-control"] == "no-store"
    assert f'href="{kiosk_path(ctx, city.kiosk_id)}/menu"' in r.text
    # An obvious English button, and the English screen.
    assert 'lang="en" hreflang="en">English</a>' in r.text
    en = client.get(kiosk_path(ctx, city.kiosk_id) + "?lang=en")
    assert "Touch to start" in en.text and "North Branch" in en.text


def test_tampered_or_foreign_links_are_refused(
    client: TestClient, ctx: AppContext, city: Any
) -> None:
    path = kiosk_path(ctx, city.kiosk_id)
    r = client.get(path[:-3] + ("abc" if not path.endswith("abc") else "xyz"))
    assert r.status_code == 403 and 'data-error="kiosk-link-invalid"' in r.text
    assert "この端末の画面を開けません" in r.text
    # A token of another purpose (a manage link) with the same claims is no kiosk link.
    other = ctx.tokens.issue(Purpose.MANAGE, {"k": city.kiosk_id})
    assert client.get(f"/kiosk/{other}").status_code == 403
    # A kiosk link without a kiosk id.
    empty = ctx.tokens.issue(Purpose.KIOSK, {})
    assert client.get(f"/kiosk/{empty}/menu").status_code == 403
    # Every screen checks the link, the POST too.
    assert client.post(f"/kiosk/{other}/code", data={"code": "x"}).status_code == 403


def test_expired_link_is_gone(
    client: TestClient, ctx: AppContext, city: Any, clock: FixedClock
) -> None:
    path = kiosk_path(ctx, city.kiosk_id, days=1)
    clock.moment += timedelta(days=2)
    r = client.get(path)
    assert r.status_code == 410 and 'data-error="kiosk-link-expired"' in r.text
    assert client.get(path + "/code").status_code == 410


def test_switched_off_or_missing_kiosk(client: TestClient, ctx: AppContext, city: Any) -> None:
    with Session(ctx.engine) as session:
        kiosk = session.get(Kiosk, city.kiosk_id)
        assert kiosk is not None
        kiosk.active = False
        session.commit()
    r = client.get(kiosk_path(ctx, city.kiosk_id))
    assert r.status_code == 403 and 'data-error="kiosk-unavailable"' in r.text
    assert client.get(kiosk_path(ctx, 9999)).status_code == 403


# -- staffed hours ----------------------------------------------------------------------------


def test_outside_staffed_hours_the_start_screen_says_so(
    client: TestClient, ctx: AppContext, city: Any, clock: FixedClock
) -> None:
    path = kiosk_path(ctx, city.kiosk_id)
    clock.moment = jst(30, 12, 15)  # lunch break
    r = client.get(path + "?lang=ja")
    assert "ただいまは受付時間外です" in r.text
    assert "13:00 から受付します" in r.text
    assert "08:30〜12:00 / 13:00〜17:15" in r.text
    assert "タッチして始めてください" not in r.text
    clock.moment = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)  # Saturday noon
    r = client.get(path + "?lang=ja")
    assert "2026年12月7日(月) 08:30 から受付します" in r.text
    assert "本日の受付はありません" in r.text
    clock.moment = jst(30, 16, 0)
    r = client.get(path + "?lang=ja")
    assert "タッチして始めてください" in r.text and "17:15 まで" in r.text


def test_menu_offers_both_ways(client: TestClient, ctx: AppContext, city: Any) -> None:
    path = kiosk_path(ctx, city.kiosk_id)
    r = client.get(path + "/menu?lang=ja")
    assert r.status_code == 200
    assert "予約のある方" in r.text and "予約のない方" in r.text
    assert f'href="{path}/code"' in r.text and f'href="{path}/walk-in"' in r.text


# -- booking codes ----------------------------------------------------------------------------


def test_a_booking_of_this_kiosk_starts_the_call(
    client: TestClient, ctx: AppContext, city: Any, clock: FixedClock
) -> None:
    booking = book(ctx, city.consult_id, ELEVEN, kiosk_id=city.kiosk_id)
    clock.moment = ELEVEN - timedelta(minutes=10)
    path = kiosk_path(ctx, city.kiosk_id)
    code_page = client.get(path + "/code?lang=ja")
    assert 'value="MDG-"' in code_page.text  # the prefix is filled in
    assert 'data-key="A"' in code_page.text and 'data-key="9"' in code_page.text
    r = submit_code(client, path, booking.code)
    assert r.status_code == 303
    location = r.headers["location"]
    assert location.startswith(f"{path}/call/")
    join = location.removeprefix(f"{path}/call/")
    claims = ctx.tokens.verify(Purpose.JOIN, join, now=clock.now())
    assert claims["role"] == "kiosk"
    assert claims["room"] == booking.room_id
    assert claims["pid"] == f"kiosk:{city.kiosk_id}"
    # The kiosk's call screen: the call modules with the kiosk's role, no idle reset.
    call = client.get(location + "?lang=ja")
    assert call.status_code == 200
    assert 'data-role="kiosk"' in call.text and f'data-room="{booking.room_id}"' in call.text
    assert '<script type="module" src="/static/js/pages/kiosk-call.js"></script>' in call.text
    assert 'data-idle="0"' in call.text
    assert 'hreflang="en"' not in call.text  # a language switch would reload and hang up
    assert "転入の相談" in call.text and "11:00〜11:30" in call.text
    assert client.get("/static/js/pages/kiosk-call.js").status_code == 200


def test_call_screen_takes_only_this_kiosks_join_tokens(
    client: TestClient, ctx: AppContext, city: Any, clock: FixedClock
) -> None:
    booking = book(ctx, city.consult_id, ELEVEN, kiosk_id=city.kiosk_id)
    clock.moment = ELEVEN
    path = kiosk_path(ctx, city.kiosk_id)
    own = ctx.links.join_token(booking, role="kiosk", pid=f"kiosk:{city.kiosk_id}")
    assert client.get(f"{path}/call/{own}").status_code == 200
    resident = ctx.links.join_token(booking)
    other_kiosk = ctx.links.join_token(booking, role="kiosk", pid="kiosk:999")
    for token in (resident, other_kiosk, own[:-2] + "xx"):
        r = client.get(f"{path}/call/{token}")
        assert r.status_code == 403 and 'data-error="kiosk-call-unavailable"' in r.text
        assert f'href="{path}"' in r.text  # back to the start screen
    clock.moment = ELEVEN + timedelta(hours=2)
    r = client.get(f"{path}/call/{own}")
    assert r.status_code == 410 and 'data-error="kiosk-call-over"' in r.text
    # The kiosk link itself is checked first.
    assert client.get(f"/kiosk/nope/call/{own}").status_code == 403


def test_codes_are_read_the_way_people_type_them(
    client: TestClient, ctx: AppContext, city: Any, clock: FixedClock
) -> None:
    booking = book(ctx, city.consult_id, ELEVEN, kiosk_id=city.kiosk_id)
    clock.moment = ELEVEN
    path = kiosk_path(ctx, city.kiosk_id)
    bare = booking.code.removeprefix("MDG-")
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in bare.lower())
    for typed in (bare, bare.lower(), f"mdg {bare}", f"ＭＤＧ－{full_width}"):
        assert submit_code(client, path, typed).status_code == 303, typed


def test_another_kiosk_of_the_same_branch_is_accepted(
    client: TestClient, ctx: AppContext, city: Any, clock: FixedClock
) -> None:
    with Session(ctx.engine) as session:
        first = session.get(Kiosk, city.kiosk_id)
        assert first is not None
        second = Kiosk(slug="kita-2", name="北支所2号機", branch_id=first.branch_id)
        session.add(second)
        session.commit()
        second_id = second.id
    booking = book(ctx, city.consult_id, ELEVEN, kiosk_id=city.kiosk_id)
    clock.moment = ELEVEN
    assert submit_code(client, kiosk_path(ctx, second_id), booking.code).status_code == 303


def test_only_this_branchs_kiosk_bookings_are_accepted(
    client: TestClient, ctx: AppContext, city: Any, clock: FixedClock
) -> None:
    with Session(ctx.engine) as session:
        south = Branch(slug="minami", name_ja="南支所", name_en="South Branch")
        other = Kiosk(slug="minami-1", name="南支所1号機", branch=south)
        session.add_all([south, other])
        session.commit()
        other_id = other.id
    elsewhere = book(ctx, city.consult_id, ELEVEN, kiosk_id=other_id)
    online = book(ctx, city.consult_id, ELEVEN, channel=Channel.ONLINE)
    clock.moment = ELEVEN
    path = kiosk_path(ctx, city.kiosk_id)
    for code in (elsewhere.code, online.code, "MDG-ZZZZZZ"):
        r = submit_code(client, path, code)
        assert r.status_code == 422
        assert problem_of(r.text) == "unknown"
        assert "この予約番号は、この支所では見つかりませんでした" in r.text
        assert 'aria-invalid="true"' in r.text
    # ...and the south kiosk takes its own booking.
    assert submit_code(client, kiosk_path(ctx, other_id), elsewhere.code).status_code == 303


def test_malformed_code(client: TestClient, ctx: AppContext, city: Any) -> None:
    r = submit_code(client, kiosk_path(ctx, city.kiosk_id), "MDG-12")
    assert r.status_code == 422 and problem_of(r.text) == "malformed"
    assert "MDG-12" in r.text  # what was typed stays, to be corrected
    r = submit_code(client, kiosk_path(ctx, city.kiosk_id), "hello", lang="en")
    assert "A booking code is MDG- followed by 6 letters and digits" in r.text


def test_only_todays_bookings_inside_their_window(
    client: TestClient, ctx: AppContext, city: Any, clock: FixedClock
) -> None:
    path = kiosk_path(ctx, city.kiosk_id)
    booking = book(ctx, city.consult_id, ELEVEN, kiosk_id=city.kiosk_id)
    tomorrow = book(ctx, city.consult_id, ELEVEN + timedelta(days=1), kiosk_id=city.kiosk_id)

    clock.moment = ELEVEN - timedelta(hours=2)  # 09:00
    r = submit_code(client, path, booking.code)
    assert problem_of(r.text) == "too-early"
    assert "ご予約は 11:00 からです。10:45 から始められます" in r.text

    r = submit_code(client, path, tomorrow.code)
    assert problem_of(r.text) == "other-day"
    assert "2026年12月1日(火) 11:00〜11:30" in r.text

    clock.moment = ELEVEN + timedelta(minutes=59)  # slot 11:00-11:30, plus 30 min grace
    assert submit_code(client, path, booking.code).status_code == 303
    clock.moment = ELEVEN + timedelta(minutes=60)
    r = submit_code(client, path, booking.code)
    assert problem_of(r.text) == "passed"


def test_cancelled_booking(
    client: TestClient, ctx: AppContext, city: Any, clock: FixedClock
) -> None:
    booking = book(ctx, city.consult_id, ELEVEN, kiosk_id=city.kiosk_id)
    with Session(ctx.engine) as session:
        svc = SchedulingService(session, tz=ctx.tz)
        svc.cancel(svc.booking_by_code(booking.code), ELEVEN - timedelta(days=1))
        session.commit()
    clock.moment = ELEVEN
    r = submit_code(client, kiosk_path(ctx, city.kiosk_id), booking.code)
    assert problem_of(r.text) == "cancelled"
    assert "この予約は取り消されています" in r.text


def test_code_form_needs_its_csrf_token(
    client: TestClient, ctx: AppContext, city: Any, clock: FixedClock
) -> None:
    booking = book(ctx, city.consult_id, ELEVEN, kiosk_id=city.kiosk_id)
    clock.moment = ELEVEN
    path = kiosk_path(ctx, city.kiosk_id)
    client.get(path + "/code")  # the browser has its CSRF cookie
    r = client.post(path + "/code", data={"code": booking.code}, follow_redirects=False)
    assert r.status_code == 403 and 'data-error="kiosk-form-refused"' in r.text
    assert "もう一度お試しください" in client.post(path + "/code?lang=ja", data={}).text
    # A token from another kiosk's form is not this kiosk's.
    with Session(ctx.engine) as session:
        first = session.get(Kiosk, city.kiosk_id)
        assert first is not None
        second = Kiosk(slug="kita-2", name="北支所2号機", branch_id=first.branch_id)
        session.add(second)
        session.commit()
        second_id = second.id
    match = CSRF.search(client.get(kiosk_path(ctx, second_id) + "/code").text)
    assert match
    r = client.post(
        path + "/code",
        data={"code": booking.code, csrf.FIELD: match.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 403


# -- walk-in ------------------------------------------------------------------------------------


def test_walk_in_page_shows_where_to_get_help(
    client: TestClient, ctx: AppContext, city: Any
) -> None:
    ctx.settings = ctx.settings.model_copy(update={"kiosk_phone": "0120-000-000"})
    with Session(ctx.engine) as session:
        branch = session.scalars(select(Branch)).one()
        branch.address = "テスト市北町1-2-3"
        session.commit()
    r = client.get(kiosk_path(ctx, city.kiosk_id) + "/walk-in?lang=ja")
    assert r.status_code == 200
    assert "0120-000-000" in r.text and "テスト市北町1-2-3" in r.text
    assert 'src="data:image/svg+xml;base64,' in r.text  # QR code of the booking page
    assert "http://127.0.0.1:8000/" in r.text
    # Staff are on duty (Monday 09:00): one large button per kiosk service, with a pictogram.
    assert 'data-service="' in r.text and 'src="/static/pictograms/' in r.text
    assert "転入の相談" in r.text and "印鑑登録の相談" not in r.text  # online only


# -- idle reset, CSP --------------------------------------------------------------------------


def test_every_screen_loads_the_idle_reset_script(
    client: TestClient, ctx: AppContext, city: Any
) -> None:
    ctx.settings = ctx.settings.model_copy(
        update={"kiosk_idle_seconds": 60, "kiosk_warn_seconds": 15}
    )
    path = kiosk_path(ctx, city.kiosk_id)
    for suffix in ("/menu", "/code", "/walk-in"):
        r = client.get(path + suffix + "?lang=ja")
        assert '<script type="module" src="/static/js/pages/kiosk.js"></script>' in r.text
        assert 'data-idle="60"' in r.text and 'data-warn="15"' in r.text
        assert f'data-home="{path}?lang=ja"' in r.text
        assert "まもなく最初の画面に戻ります" in r.text
        # Strict CSP: no inline scripts or styles.
        assert not re.search(r"<script(?![^>]*\bsrc=)", r.text)
        assert " style=" not in r.text and "<style" not in r.text
    # The Japanese start screen is where the kiosk rests; English goes back to it.
    assert 'data-idle="0"' in client.get(path + "?lang=ja").text
    assert 'data-idle="60"' in client.get(path + "?lang=en").text
    js = client.get("/static/js/pages/kiosk.js")
    assert js.status_code == 200 and "location.replace(home)" in js.text
    assert client.get("/static/css/kiosk.css").status_code == 200


def test_kiosk_settings_need_a_warning_shorter_than_the_idle_time() -> None:
    with pytest.raises(ValueError, match="WARN_SECONDS"):
        Settings(kiosk_idle_seconds=30, kiosk_warn_seconds=30)


# -- the administrator's link -------------------------------------------------------------------


def test_admin_opens_a_kiosk_screen(client: TestClient, ctx: AppContext, city: Any) -> None:
    path = f"/admin/kiosks/{city.kiosk_id}/open"
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/staff/login")
    login(client, "staff1")
    assert client.get(path, follow_redirects=False).status_code == 403
    client.cookies.clear()
    login(client, "admin")
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303
    location = r.headers["location"]
    assert location.startswith("/kiosk/") and location.endswith("?lang=ja")
    token = location.removeprefix("/kiosk/").removesuffix("?lang=ja")
    claims = ctx.tokens.verify(Purpose.KIOSK, token, now=ctx.clock.now())
    assert claims["k"] == city.kiosk_id
    # Valid for the configured time (a year by default), then gone.
    assert claims["exp"] == int((ctx.clock.now() + timedelta(days=365)).timestamp())
    page = client.get(location)
    assert page.status_code == 200 and "北支所" in page.text
    # The kiosk's admin page links to it.
    edit = client.get(f"/admin/kiosks/{city.kiosk_id}?lang=ja")
    assert f'href="/admin/kiosks/{city.kiosk_id}/open"' in edit.text
    assert "端末の画面を開く" in edit.text
    assert client.get("/admin/kiosks/9999/open").status_code == 404


# -- translations -------------------------------------------------------------------------------


def test_every_kiosk_message_has_a_japanese_translation() -> None:
    import ast

    from jinja2 import Environment

    from app.core.i18n import catalog
    from web.pages.kiosk import call as kiosk_call
    from web.pages.kiosk import screen as kiosk_pages
    from web.pages.kiosk import support as kiosk_support
    from web.templating import TEMPLATES_DIR

    env = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    messages: set[str] = set()
    for path in sorted(Path(TEMPLATES_DIR, "kiosk").glob("*.html")):
        for _line, _func, message in env.extract_translations(path.read_text()):  # type: ignore[attr-defined]
            if isinstance(message, str):
                messages.add(message)
        # Calls with parameters, which the extractor above leaves out.
        messages.update(re.findall(r'_\(\s*"([^"]+)"', path.read_text()))
        messages.update(re.findall(r"_\(\s*'([^']+)'", path.read_text()))
    for kind in vars(kiosk_support).values():
        if isinstance(kind, kiosk_support.KioskErrorPage):
            messages.update((kind.title, kind.what, kind.todo))
    # Messages built in Python: every _("...") call of the module.
    trees = [ast.parse(Path(str(m.__file__)).read_text()) for m in (kiosk_pages, kiosk_call)]
    for node in (n for tree in trees for n in ast.walk(tree)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "_"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            messages.add(node.args[0].value)
    assert len(messages) > 40
    ja = catalog("ja")
    missing = sorted(m for m in messages if not ((entry := ja.get(m)) and entry.string))
    assert missing == []
