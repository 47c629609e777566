"""The rush queue's pages through the HTML, as a browser without JavaScript uses them:
the front door, the waiting page, the turn, booking with the admission, and every way
an admission goes wrong, each answered with a page (never an error page)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from admin_page_helpers import login
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.tokens import Purpose, Tokens
from scheduler.models import Booking, Service, Staff
from web import csrf

TEN = "2026-12-01T10:00:00+09:00"
CSRF = re.compile(rf'name="{csrf.FIELD}" value="([^"]+)"')
CONTACT = {"name": "山田 花子", "email": "hanako@example.jp", "phone": "", "mail_locale": "ja"}


@pytest.fixture
def rush(ctx: AppContext, city: Any) -> int:
    with Session(ctx.engine) as s:
        s.execute(update(Service).where(Service.id == city.consult_id).values(rush=True))
        s.commit()
    return int(city.consult_id)


def text_of(r: httpx.Response) -> str:
    return re.sub(r"\s+", " ", r.text)


def page_ok(r: httpx.Response) -> str:
    """Every answer a resident sees here is a page, status 200, with no inline script."""
    assert r.status_code == 200, (r.url, r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("text/html")
    assert "<script>" not in r.text and " style=" not in r.text
    return text_of(r)


WAIT_URL = re.compile(r'data-wait-url="(/rush/wait/[^"]+)"')


def take_place(client: TestClient, service_id: int) -> str:
    """Front door, then the button: returns the waiting page's address.

    The button answers with the waiting page itself (one request), whose
    ``<noscript>`` refresh and script lead to the waiting address.
    """
    r = client.get(f"/rush/{service_id}")
    text = page_ok(r)
    assert "順番待ちの列に並ぶ" in text
    token = CSRF.search(r.text)
    assert token is not None
    r = client.post(
        f"/rush/{service_id}", data={csrf.FIELD: token.group(1)}, follow_redirects=False
    )
    page_ok(r)
    assert 'data-rush="waiting"' in r.text
    wait = WAIT_URL.search(r.text)
    assert wait is not None
    assert re.search(
        rf'<noscript><meta http-equiv="refresh" content="\d+; url={wait.group(1)}">', r.text
    )
    return wait.group(1)


def wait_for_turn(client: TestClient, clock: FixedClock, service_id: int) -> None:
    wait = take_place(client, service_id)
    assert wait.startswith("/rush/wait/")
    text = page_ok(client.get(wait))
    assert "あなたの番号 <strong>1</strong>" in text and "次にお呼びします。" in text
    clock.moment += timedelta(seconds=1)
    r = client.get(wait, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/services/{service_id}"
    assert f"rush_admission_{service_id}" in r.headers["set-cookie"]


def book_page(client: TestClient, service_id: int) -> httpx.Response:
    r = client.get(f"/services/{service_id}/book", params={"start": TEN})
    page_ok(r)
    token = CSRF.search(r.text)
    assert token is not None
    data = {csrf.FIELD: token.group(1), "start": TEN, "channel": "online", **CONTACT}
    return client.post(f"/services/{service_id}/book", data=data, follow_redirects=False)


def test_a_resident_queues_waits_and_books(
    client: TestClient, clock: FixedClock, ctx: AppContext, rush: int
) -> None:
    # The booking pages of a rush service lead to its queue first.
    for path in (f"/services/{rush}", f"/services/{rush}/day/2026-12-01"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/rush/{rush}", path
    # Two people ahead: the waiting page shows the place without JavaScript.
    for _ in range(2):
        take_place(TestClient(client.app), rush)
    wait = take_place(client, rush)
    r = client.get(wait)
    text = page_ok(r)
    assert re.search(r"あなたの番号 <strong>3</strong>", text)
    assert "あなたの前に 2 人お待ちです" in text and "待ち時間の目安：約1分" in text
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in r.text
    assert 'aria-live="polite"' in r.text and "/static/js/pages/rush-wait.js" in r.text
    assert f'data-status-url="/api/v1/rush/tickets/{wait.rsplit("/", 1)[1]}"' in r.text
    # Back at the front door, the place taken stands.
    r = client.get(f"/rush/{rush}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == wait
    # English too.
    assert "People ahead of you: 2" in page_ok(client.get(wait + "?lang=en"))
    page_ok(client.get(wait + "?lang=ja"))

    clock.moment += timedelta(seconds=1)
    r = client.get(wait, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/services/{rush}"
    page_ok(client.get(f"/services/{rush}"))
    r = book_page(client, rush)
    assert r.status_code == 303 and r.headers["location"].startswith("/manage/")
    # The place is spent: the waiting page says so, and booking again sends them back.
    assert "この順番ですでに予約が済んでいます" in page_ok(client.get(wait))
    r = client.get(f"/services/{rush}", follow_redirects=False)
    assert r.headers["location"] == f"/rush/{rush}?m=used"
    with Session(ctx.engine) as s:
        assert len(s.scalars(select(Booking)).all()) == 1


def test_a_forged_admission_goes_back_to_the_queue_with_a_message(
    client: TestClient, rush: int
) -> None:
    forged = Tokens("not-the-city-secret-" + "f" * 40).issue(
        Purpose.RUSH_ADMISSION,
        {"s": rush, "n": 1},
        expires=datetime(2030, 1, 1, tzinfo=UTC),
    )
    client.cookies.set(f"rush_admission_{rush}", forged)
    r = client.get(f"/services/{rush}/book", params={"start": TEN}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/rush/{rush}?m=invalid"
    text = page_ok(client.get(r.headers["location"]))
    assert "この順番は無効です。もう一度列に並んでください。" in text
    assert "順番待ちの列に並ぶ" in text
    # A forged or cut-off waiting-page address is a page of its own too.
    assert "この順番は無効です" in page_ok(client.get("/rush/wait/forged"))


def test_an_expired_admission_goes_back_to_the_queue_with_a_message(
    client: TestClient, clock: FixedClock, ctx: AppContext, rush: int
) -> None:
    wait_for_turn(client, clock, rush)
    clock.moment += timedelta(minutes=ctx.settings.rush_admission_minutes)
    r = book_page_post_only(client, rush)
    assert r.status_code == 303 and r.headers["location"] == f"/rush/{rush}?m=expired"
    text = page_ok(client.get(r.headers["location"]))
    assert "予約の受付時間が過ぎました。もう一度列に並んでください。" in text
    with Session(ctx.engine) as s:
        assert s.scalars(select(Booking)).all() == []


def book_page_post_only(client: TestClient, service_id: int) -> httpx.Response:
    """Submit the booking form (its CSRF token from the queue page, the same cookie)."""
    r = client.get(f"/rush/{service_id}?m=expired")
    token = CSRF.search(r.text)
    assert token is not None
    data = {csrf.FIELD: token.group(1), "start": TEN, "channel": "online", **CONTACT}
    return client.post(f"/services/{service_id}/book", data=data, follow_redirects=False)


def test_a_full_service_says_fully_booked(
    client: TestClient, clock: FixedClock, ctx: AppContext, rush: int
) -> None:
    wait = take_place(client, rush)
    with Session(ctx.engine) as s:
        s.execute(update(Staff).values(active=False))
        s.commit()
    clock.moment += timedelta(seconds=6)
    for path in (wait, f"/rush/{rush}"):
        text = page_ok(client.get(path))
        assert "受付を終了しました（満席）" in text, path
    r = client.get(f"/services/{rush}", follow_redirects=False)
    assert r.headers["location"] == f"/rush/{rush}"
    assert "Bookings closed (fully booked)" in page_ok(client.get(f"/rush/{rush}?lang=en"))


def test_before_opening_the_front_door_shows_the_time(
    client: TestClient, clock: FixedClock, ctx: AppContext, rush: int
) -> None:
    with Session(ctx.engine) as s:
        s.execute(
            update(Service)
            .where(Service.id == rush)
            .values(rush_opens_at=clock.now() + timedelta(minutes=30))
        )
        s.commit()
    r = client.get(f"/rush/{rush}")
    text = page_ok(r)
    assert "受付開始は 11月30日 09:30 です。" in text
    assert '<meta http-equiv="refresh" content="60">' in r.text


def test_an_administrator_marks_a_service_as_a_rush(
    client: TestClient, ctx: AppContext, city: Any
) -> None:
    login(client)
    page = client.get(f"/admin/services/{city.consult_id}")
    assert page.status_code == 200 and 'name="rush"' in page.text
    assert 'name="rush_opens_at"' in page.text
    form = {
        "department_id": str(city.dept_id),
        "slug": "tennyu",
        "name_ja": "転入の相談",
        "name_en": "Moving in",
        "duration_min": "30",
        "buffer_before_min": "0",
        "buffer_after_min": "10",
        "slot_step_min": "30",
        "channels": ["online", "kiosk"],
        "min_notice_min": "120",
        "horizon_days": "60",
        "change_cutoff_min": "120",
        "active": "1",
        "sort_order": "0",
        "rush": "1",
        "rush_opens_at": "2027-01-05T08:30",
    }
    token = CSRF.search(page.text)
    assert token is not None
    r = client.post(
        f"/admin/services/{city.consult_id}",
        data={**form, csrf.FIELD: token.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:500]
    with Session(ctx.engine) as s:
        service = s.get(Service, city.consult_id)
        assert service is not None and service.rush
        assert service.rush_opens_at == datetime(2027, 1, 4, 23, 30, tzinfo=UTC)
    # Shown back in the city's time.
    assert 'value="2027-01-05T08:30"' in client.get(f"/admin/services/{city.consult_id}").text


def test_taking_a_place_answers_with_the_waiting_page_and_a_resubmitted_form_keeps_it(
    client: TestClient, rush: int
) -> None:
    r = client.get(f"/rush/{rush}")
    token = CSRF.search(r.text)
    assert token is not None
    form = {csrf.FIELD: token.group(1)}
    first = client.post(f"/rush/{rush}", data=form, follow_redirects=False)
    text = page_ok(first)
    assert "あなたの番号 <strong>1</strong>" in text and "次にお呼びします。" in text
    assert f"rush_ticket_{rush}" in first.headers["set-cookie"]
    wait = WAIT_URL.search(first.text)
    assert wait is not None
    assert "/static/js/pages/rush-wait.js" in first.text
    # The script shows "fully booked" in place if the queue fills meanwhile.
    assert 'data-full-title="受付を終了しました（満席）"' in first.text
    # Reloading the answer without JavaScript sends the form again: same place.
    again = client.post(f"/rush/{rush}", data=form, follow_redirects=False)
    assert "あなたの番号 <strong>1</strong>" in page_ok(again)
    assert f'data-wait-url="{wait.group(1)}"' in again.text
    # Someone else is the next number.
    assert take_place(TestClient(client.app), rush) != wait.group(1)
