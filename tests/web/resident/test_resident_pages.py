"""Resident pages end to end through the HTML: browse, book, manage, waiting list.

Forms are filled the way a browser does it: the CSRF token is read from the
page's HTML and posted back with the cookie the page set. Every page seen is
also checked for the strict-CSP rules (no inline script or style).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests_app_helpers import book  # type: ignore[import-not-found]

from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.outbox import OutboxMail
from scheduler.models import Booking, BookingStatus
from scheduler.service import SchedulingService
from web import csrf

TEN = "2026-12-01T10:00:00+09:00"
TEN_Q = "2026-12-01T10%3A00%3A00%2B09%3A00"


# -- HTML helpers ------------------------------------------------------------------


class Page(HTMLParser):
    """Collects what the tests look at: inputs, links, scripts, style use."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, str | None]] = []
        self.links: list[str] = []
        self.inline_scripts = 0
        self.script_srcs: list[str] = []
        self.style_attrs = 0
        self.style_elements = 0
        self.html_lang: str | None = None
        self.labels_for: set[str] = set()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if "style" in a:
            self.style_attrs += 1
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if any(k.startswith("on") for k in a):
            self.inline_scripts += 1  # onclick= and friends are inline script too
        if tag == "html":
            self.html_lang = a.get("lang")
        elif tag == "script":
            if a.get("src"):
                self.script_srcs.append(str(a["src"]))
            else:
                self.inline_scripts += 1
        elif tag == "style":
            self.style_elements += 1
        elif tag in ("input", "select", "button"):
            self.inputs.append({"tag": tag, **a})
        elif tag == "a" and a.get("href"):
            self.links.append(str(a["href"]))
        elif tag == "label" and a.get("for"):
            self.labels_for.add(str(a["for"]))


def parse(r: httpx.Response) -> Page:
    """Parse a page and check the rules every resident page must keep."""
    assert r.headers["content-type"].startswith("text/html"), r.text[:200]
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    p = Page()
    p.feed(r.text)
    assert p.inline_scripts == 0, "inline script on " + str(r.url)
    assert p.style_attrs == 0 and p.style_elements == 0, "inline style on " + str(r.url)
    assert p.html_lang in ("ja", "en")
    # Every visible form control has a label tied to it.
    for field in p.inputs:
        if field["tag"] != "button" and field.get("type") not in ("hidden", "submit"):
            assert field.get("id") in p.labels_for, f"unlabelled control {field}"
    return p


def csrf_of(p: Page) -> str:
    return next(str(i["value"]) for i in p.inputs if i.get("name") == csrf.FIELD)


def get(client: TestClient, url: str, status: int = 200) -> tuple[httpx.Response, Page]:
    r = client.get(url)
    assert r.status_code == status, (url, r.status_code, r.text[:500])
    return r, parse(r)


def text_of(r: httpx.Response) -> str:
    return re.sub(r"\s+", " ", r.text)


def manage_token(location: str) -> str:
    return location.split("/manage/", 1)[1].split("?", 1)[0].split("/", 1)[0]


def outbox(ctx: AppContext) -> list[OutboxMail]:
    with Session(ctx.engine) as s:
        return list(s.scalars(select(OutboxMail).order_by(OutboxMail.id)))


CONTACT = {"name": "山田 花子", "email": "hanako@example.jp", "phone": "", "mail_locale": "ja"}


def book_through_pages(client: TestClient, service_id: int, start_q: str = TEN_Q) -> str:
    """Book like a resident; returns the manage path the browser lands on."""
    _, form = get(client, f"/services/{service_id}/book?start={start_q}")
    data = {
        csrf.FIELD: csrf_of(form),
        "start": unquote(start_q),
        "channel": "online",
        **CONTACT,
    }
    r = client.post(f"/services/{service_id}/book", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    return str(r.headers["location"])


# -- browsing ------------------------------------------------------------------------


def test_start_department_service_and_day_pages(client: TestClient, city) -> None:
    r, p = get(client, "/")
    assert p.html_lang == "ja"
    assert "市民課" in r.text and "/departments/shimin" in p.links
    r, p = get(client, "/departments/shimin")
    assert "転入の相談" in r.text and "印鑑登録の相談" in r.text
    assert f"/services/{city.consult_id}" in p.links
    r, p = get(client, f"/services/{city.consult_id}")
    assert "2026年12月1日(火)" in r.text
    assert f"/services/{city.consult_id}/day/2026-12-01" in p.links
    # Weekends are closed, so they are not offered.
    assert f"/services/{city.consult_id}/day/2026-12-05" not in p.links
    r, p = get(client, f"/services/{city.consult_id}/day/2026-12-01")
    assert f"/services/{city.consult_id}/book?start={TEN_Q}" in p.links
    assert "午前" in r.text and "午後" in r.text
    r, p = get(client, f"/services/{city.consult_id}/day/2026-12-05")
    assert "閉庁" in r.text or "お休み" in r.text


def test_full_booking_flow_shows_the_confirmation(
    client: TestClient, city, ctx: AppContext
) -> None:
    r, form = get(client, f"/services/{city.consult_id}/book?start={TEN_Q}")
    assert "2026年12月1日(火) 10:00〜10:30" in r.text
    assert {"name", "email", "phone", "kiosk_id"} <= {str(i.get("name")) for i in form.inputs}
    location = book_through_pages(client, city.consult_id)
    assert location.startswith("/manage/") and location.endswith("?new=1")
    r, page = get(client, location)
    text = text_of(r)
    assert "ご予約が完了しました" in text
    assert "2026年12月1日(火) 10:00〜10:30" in text
    code = re.search(r"MDG-[0-9A-Z]{6}", text)
    assert code is not None
    assert "/static/js/pages/resident-manage.js" in page.script_srcs
    assert r.headers["cache-control"] == "no-store"
    # The join link is shown as text (copyable without JS), with a copy button.
    assert re.search(r">http://127\.0\.0\.1:8000/join/[^<]+<", r.text)
    assert 'data-copy-target="join-link"' in r.text and 'id="join-link-status"' in r.text
    ics = next(link for link in page.links if link.endswith("booking.ics"))
    cal = client.get(ics)
    assert cal.status_code == 200 and cal.headers["content-type"].startswith("text/calendar")
    token = manage_token(location)
    assert f"/manage/{token}/cancel" in page.links and f"/manage/{token}/change" in page.links
    mails = outbox(ctx)
    assert [m.kind for m in mails] == ["booking-confirmed"]
    assert code.group(0) in mails[0].body


def test_booking_for_a_branch_kiosk(client: TestClient, city, ctx: AppContext) -> None:
    _, form = get(client, f"/services/{city.consult_id}/book?start={TEN_Q}")
    data = {
        csrf.FIELD: csrf_of(form),
        "start": TEN,
        "channel": "kiosk",
        "kiosk_id": str(city.kiosk_id),
        **CONTACT,
    }
    r = client.post(f"/services/{city.consult_id}/book", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    r, _ = get(client, r.headers["location"])
    assert "北支所1号機" in r.text and "北支所 北支所1号機" not in r.text
    assert "窓口端末の画面で予約番号を入力してください" in r.text
    assert "/join/" not in r.text  # a kiosk booking is joined from the kiosk
    with Session(ctx.engine) as s:
        booking = s.scalars(select(Booking)).one()
        assert booking.channel == "kiosk" and booking.kiosk_id == city.kiosk_id


def test_english_is_remembered_by_cookie(client: TestClient, city) -> None:
    r, p = get(client, "/?lang=en")
    assert p.html_lang == "en" and "Residents Division" in r.text
    assert "lang=en" in r.headers["set-cookie"]
    r, p = get(client, "/departments/shimin")
    assert p.html_lang == "en" and "Moving in" in r.text
    location = book_through_pages(client, city.consult_id)
    r, _ = get(client, location)
    assert "Your booking is confirmed" in r.text
    assert "Tue 1 Dec 2026, 10:00–10:30" in r.text
    # Switching on the form (which drops the chosen time) goes back to the days, switched.
    r = client.get(f"/services/{city.consult_id}/book?lang=ja")
    assert r.status_code == 200 and str(r.url).endswith(f"/services/{city.consult_id}?lang=ja")
    assert parse(r).html_lang == "ja"
    _, p = get(client, "/departments/shimin")
    assert p.html_lang == "ja"


# -- CSRF ----------------------------------------------------------------------------


def test_posts_without_a_valid_csrf_token_are_refused(
    client: TestClient, city, ctx: AppContext
) -> None:
    _, form = get(client, f"/services/{city.consult_id}/book?start={TEN_Q}")
    data = {"start": TEN, "channel": "online", **CONTACT}
    r = client.post(f"/services/{city.consult_id}/book", data=data, follow_redirects=False)
    assert r.status_code == 403
    page = parse(r)
    assert "送信できませんでした" in r.text and page.html_lang == "ja"
    bad = {**data, csrf.FIELD: csrf_of(form)[:-2] + "xx"}
    assert client.post(f"/services/{city.consult_id}/book", data=bad).status_code == 403
    # A valid token is bound to the browser that fetched it (double-submit cookie).
    token = csrf_of(form)
    client.cookies.clear()
    r = client.post(f"/services/{city.consult_id}/book", data={**data, csrf.FIELD: token})
    assert r.status_code == 403
    assert outbox(ctx) == []
    with Session(ctx.engine) as s:
        assert s.scalars(select(Booking)).first() is None


def test_csrf_tokens_expire_and_are_bound_to_a_scope(
    client: TestClient, city, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, form = get(client, f"/services/{city.consult_id}/book?start={TEN_Q}")
    token = csrf_of(form)
    data = {csrf.FIELD: token, "start": TEN, "channel": "online", **CONTACT}
    monkeypatch.setattr(csrf, "MAX_AGE_SECONDS", -1)
    assert client.post(f"/services/{city.consult_id}/book", data=data).status_code == 403
    monkeypatch.undo()

    request: Any = type(
        "R",
        (),
        {"cookies": dict(client.cookies), "app": client.app, "state": type("S", (), {})()},
    )()
    csrf.verify(request, token)
    with pytest.raises(csrf.CsrfError) as info:
        csrf.verify(request, token, scope="staff:1")
    assert info.value.status_code == 403 and info.value.reason == "token for another scope"
    scoped = csrf.issue(request, scope="staff:1")
    csrf.verify(request, scoped, scope="staff:1")


# -- form errors and a slot taken meanwhile ---------------------------------------------


def test_invalid_details_are_listed_and_linked_to_their_fields(client: TestClient, city) -> None:
    _, form = get(client, f"/services/{city.consult_id}/book?start={TEN_Q}")
    data = {
        csrf.FIELD: csrf_of(form),
        "start": TEN,
        "channel": "kiosk",
        "kiosk_id": "",
        "name": " ",
        "email": "hanako@",
        "phone": "abc",
    }
    r = client.post(f"/services/{city.consult_id}/book", data=data)
    assert r.status_code == 422
    p = parse(r)
    for field in ("name", "email", "phone", "kiosk_id"):
        assert f'href="#{field}"' in r.text and field in p.ids
    assert 'aria-invalid="true"' in r.text and 'role="alert"' in r.text
    assert "お名前を入力してください" in r.text


def test_full_width_input_is_accepted(client: TestClient, city, ctx: AppContext) -> None:
    _, form = get(client, f"/services/{city.consult_id}/book?start={TEN_Q}")
    data = {
        csrf.FIELD: csrf_of(form),
        "start": TEN,
        "channel": "online",
        "name": "山田 花子",
        "email": "ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｊｐ",
        "phone": "０９０－１２３４－５６７８",
    }
    r = client.post(f"/services/{city.consult_id}/book", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert outbox(ctx)[0].to_addr == "hanako@example.jp"


def test_a_slot_taken_meanwhile_offers_the_nearest_times_and_keeps_the_input(
    client: TestClient, city
) -> None:
    _, form = get(client, f"/services/{city.consult_id}/book?start={TEN_Q}")
    for _ in range(3):  # every qualified staff member is now booked at 10:00
        assert book(client, city.consult_id, TEN).status_code == 201
    data = {csrf.FIELD: csrf_of(form), "start": TEN, "channel": "online", **CONTACT}
    r = client.post(f"/services/{city.consult_id}/book", data=data)
    assert r.status_code == 409
    p = parse(r)
    assert "埋まりました" in r.text
    starts = [str(i["value"]) for i in p.inputs if i.get("name") == "start"]
    # 9:30 and 10:30 clash with the 10:00 bookings' 10-minute buffer.
    assert starts[:3] == [
        "2026-12-01T08:30:00+09:00",
        "2026-12-01T09:00:00+09:00",
        "2026-12-01T11:00:00+09:00",
    ]
    assert TEN not in starts and len(starts) == 6
    assert 'value="山田 花子"' in r.text  # nothing to type again
    data["start"] = starts[0]
    data[csrf.FIELD] = csrf_of(p)
    r = client.post(f"/services/{city.consult_id}/book", data=data, follow_redirects=False)
    assert r.status_code == 303
    # Opening the form for a time that is gone says so straight away.
    r, _ = get(client, f"/services/{city.consult_id}/book?start={TEN_Q}", status=409)
    assert "埋まりました" in r.text


# -- manage: cancel and change ----------------------------------------------------------


def test_cancel_through_the_pages(client: TestClient, city, ctx: AppContext) -> None:
    location = book_through_pages(client, city.consult_id)
    token = manage_token(location)
    r, confirm = get(client, f"/manage/{token}/cancel")
    assert "取り消しますか" in r.text
    r = client.post(
        f"/manage/{token}/cancel", data={csrf.FIELD: csrf_of(confirm)}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == f"/manage/{token}?done=cancelled"
    r, p = get(client, r.headers["location"])
    assert "予約を取り消しました" in r.text
    assert f"/manage/{token}/cancel" not in p.links
    assert [m.kind for m in outbox(ctx)] == ["booking-confirmed", "booking-cancelled"]
    # A second cancel (e.g. the back button) leads back to the booking page.
    r = client.get(f"/manage/{token}/cancel", follow_redirects=False)
    assert r.status_code == 303


def test_change_the_time_through_the_pages(client: TestClient, city, ctx: AppContext) -> None:
    token = manage_token(book_through_pages(client, city.consult_id))
    r, days = get(client, f"/manage/{token}/change")
    assert f"/manage/{token}/change/2026-12-02" in days.links
    r, times = get(client, f"/manage/{token}/change/2026-12-02")
    values = [str(i.get("value")) for i in times.inputs if i.get("name") == "start"]
    assert "2026-12-02T14:00:00+09:00" in values
    r = client.post(
        f"/manage/{token}/change",
        data={csrf.FIELD: csrf_of(times), "start": "2026-12-02T14:00:00+09:00"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("?done=changed")
    r, _ = get(client, r.headers["location"])
    assert "2026年12月2日(水) 14:00〜14:30" in text_of(r)
    assert "日時を変更しました" in r.text
    assert [m.kind for m in outbox(ctx)][-1] == "booking-rescheduled"


def test_change_to_a_time_taken_meanwhile(client: TestClient, city) -> None:
    token = manage_token(book_through_pages(client, city.consult_id))
    _, times = get(client, f"/manage/{token}/change/2026-12-02")
    for _ in range(3):
        assert book(client, city.consult_id, "2026-12-02T14:00:00+09:00").status_code == 201
    r = client.post(
        f"/manage/{token}/change",
        data={csrf.FIELD: csrf_of(times), "start": "2026-12-02T14:00:00+09:00"},
    )
    assert r.status_code == 409
    parse(r)
    assert "埋まりました" in r.text
    r, _ = get(client, f"/manage/{token}")
    assert "2026年12月1日(火) 10:00〜10:30" in text_of(r)


def test_past_the_cutoff_the_page_explains_and_gives_the_department(
    client: TestClient, city, clock: FixedClock
) -> None:
    token = manage_token(book_through_pages(client, city.consult_id))
    token_value = csrf_of_any(client, f"/manage/{token}/cancel")
    clock.moment = datetime.fromisoformat("2026-12-01T09:00:00+09:00")  # cutoff was 08:00
    r, p = get(client, f"/manage/{token}")
    text = text_of(r)
    assert "オンラインでの変更・取消の受付は終了しました" in text
    assert "2026年12月1日(火) 08:00" in text and "市民課" in text
    assert "月〜金 08:30〜12:00、13:00〜17:15" in text
    assert f"/manage/{token}/cancel" not in p.links
    r = client.post(f"/manage/{token}/cancel", data={csrf.FIELD: token_value})
    assert r.status_code == 409
    assert "オンラインでの変更・取消の受付は終了しました" in text_of(r)
    assert client.get(f"/manage/{token}/change", follow_redirects=False).status_code == 303


def csrf_of_any(client: TestClient, url: str) -> str:
    _, p = get(client, url)
    return csrf_of(p)


# -- links that are not (or no longer) valid ---------------------------------------------


def test_expired_tampered_and_unknown_links_have_pages(
    client: TestClient, city, clock: FixedClock
) -> None:
    token = manage_token(book_through_pages(client, city.consult_id))
    r, _ = get(client, f"/manage/{token[:-3]}abc", status=403)
    assert "このリンクは無効です" in r.text and 'data-error="link-invalid"' in r.text
    r, _ = get(client, f"/manage/{token[:-3]}abc?lang=en", status=403)
    assert "This link is not valid" in r.text
    get(client, "/?lang=ja")
    r, _ = get(client, "/departments/nope", status=404)
    assert "ページが見つかりません" in r.text
    get(client, "/services/999", status=404)
    get(client, "/services/abc", status=404)
    get(client, f"/services/{city.consult_id}/day/2026-13-01", status=404)
    clock.moment += timedelta(days=40)
    r, _ = get(client, f"/manage/{token}", status=410)
    assert "有効期限が切れています" in r.text
    # The JSON API keeps its JSON errors.
    api = client.get(f"/api/v1/bookings/{token[:-3]}abc")
    assert api.status_code == 403 and api.json()["error"]["code"] == "token-invalid"


def test_a_server_error_has_a_page_and_logs_no_personal_data(
    client: TestClient, city, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    detail = f"row {(CONTACT['name'], CONTACT['email'])} failed"  # as a database error quotes it

    def broken(self: SchedulingService) -> None:
        raise RuntimeError(detail)

    monkeypatch.setattr(SchedulingService, "departments", broken)
    r, _ = get(client, "/", status=500)
    assert "システムに問題" in r.text and "hanako" not in r.text
    assert "RuntimeError" in caplog.text and "in broken" in caplog.text
    assert "hanako" not in caplog.text and "山田" not in caplog.text


# -- waiting list ----------------------------------------------------------------------------


@pytest.fixture
def full_day(client: TestClient, city) -> list[str]:
    """The capped service (two a day) fully booked on 2026-12-01: manage tokens."""
    tokens = []
    for start in ("2026-12-01T10:00:00+09:00", "2026-12-01T10:30:00+09:00"):
        r = book(client, city.capped_id, start)
        assert r.status_code == 201
        tokens.append(r.json()["manage_url"].rsplit("/", 1)[1])
    return tokens


def test_waiting_list_join_offer_and_claim(
    client: TestClient, city, ctx: AppContext, clock: FixedClock, full_day: list[str]
) -> None:
    r, _ = get(client, f"/services/{city.capped_id}")
    assert "キャンセル待ち" in r.text
    r, p = get(client, f"/services/{city.capped_id}/day/2026-12-01")
    assert "すべて埋まっています" in r.text
    data = {
        csrf.FIELD: csrf_of(p),
        "service_id": str(city.capped_id),
        "day": "2026-12-01",
        **{**CONTACT, "email": "wait@example.jp"},
    }
    r = client.post("/waitlist", data=data, follow_redirects=False)
    assert r.status_code == 303
    r, _ = get(client, r.headers["location"])
    assert "キャンセル待ちに登録しました" in r.text
    again = client.post("/waitlist", data=data)
    assert again.status_code == 422 and "すでに登録されています" in again.text

    assert client.post(f"/api/v1/bookings/{full_day[0]}/cancel").status_code == 200
    offer = next(m for m in outbox(ctx) if m.kind == "waitlist-offer")
    url = next(w for w in offer.body.split() if "/waitlist/offers/" in w)
    path = url.split("127.0.0.1:8000", 1)[1]
    r, p = get(client, path)
    assert "2026年12月1日(火) 10:00〜10:30" in text_of(r)
    r = client.post(path, data={csrf.FIELD: csrf_of(p)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("?new=1")
    r, _ = get(client, r.headers["location"])
    assert "ご予約が完了しました" in r.text
    r, p = get(client, path)
    assert "ご予約済み" in r.text
    assert any(link.startswith("/manage/") for link in p.links)
    clock.moment += timedelta(hours=3)
    r, _ = get(client, path, status=410)


def test_an_offer_not_taken_in_time(
    client: TestClient, city, ctx: AppContext, clock: FixedClock, full_day: list[str]
) -> None:
    r = client.post(
        "/api/v1/waitlist",
        json={"service_id": city.capped_id, "day": "2026-12-01", "name": "待ち", "email": "w@x.jp"},
    )
    assert r.status_code == 201
    assert client.post(f"/api/v1/bookings/{full_day[1]}/cancel").status_code == 200
    offer = next(m for m in outbox(ctx) if m.kind == "waitlist-offer")
    path = next(w for w in offer.body.split() if "/waitlist/offers/" in w).split(":8000", 1)[1]
    _, p = get(client, path)
    token_value = csrf_of(p)
    # Someone else took it some other way: the entry is no longer offered.
    with Session(ctx.engine) as s:
        from scheduler.models import WaitlistEntry, WaitlistStatus

        entry = s.scalars(select(WaitlistEntry)).one()
        entry.status = WaitlistStatus.EXPIRED
        s.commit()
    r, _ = get(client, path)
    assert "このご案内は終了しました" in r.text
    r = client.post(path, data={csrf.FIELD: token_value})
    assert r.status_code == 409 and "このご案内は終了しました" in r.text
    with Session(ctx.engine) as s:
        live = s.scalars(select(Booking).where(Booking.status == BookingStatus.CONFIRMED)).all()
        assert len(live) == 1


# -- catalog -------------------------------------------------------------------------------


def test_every_resident_message_has_a_japanese_translation() -> None:
    from pathlib import Path

    from jinja2 import Environment

    from app.core.i18n import catalog
    from web.pages.resident import support as resident_support
    from web.templating import TEMPLATES_DIR

    env = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    messages: set[str] = set()
    for path in sorted(Path(TEMPLATES_DIR, "resident").glob("*.html")):
        for _line, _func, message in env.extract_translations(path.read_text()):
            if isinstance(message, str):
                messages.add(message)
    for kind in vars(resident_support).values():
        if isinstance(kind, resident_support.ErrorKind):
            messages.update((kind.title, kind.what, kind.todo))
    ja = catalog("ja")
    missing = sorted(m for m in messages if not (ja.get(m) and ja.get(m).string))
    assert missing == []
