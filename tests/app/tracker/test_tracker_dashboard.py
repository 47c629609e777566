"""Dashboard figures from session records and bookings, on both backends."""

from __future__ import annotations

import re
import statistics
from datetime import date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from tracker_helpers import NOW, MiniCity, make_booking

from app.core.context import AppContext
from app.tracker.dashboard import build_dashboard
from app.tracker.models import SessionRecord
from scheduler.models import Kiosk

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
WAITS = [30, 60, 90, 120, 150, 200, 400, 800]


def record(
    session: Session, city: MiniCity, start: datetime, n: int, **extra: object
) -> SessionRecord:
    values: dict[str, object] = {
        "room": f"dash-{n}",
        "kind": "booking",
        "channel": "home",
        "department_id": city.dept_id,
        "service_id": city.consult_id,
        "started_at": start,
        "notes": "",
        "no_show": False,
        "reconstructed": False,
        "closed": True,
        "updated_at": start,
    }
    values.update(extra)
    row = SessionRecord(**values)
    session.add(row)
    return row


def seed(ctx: AppContext, city: MiniCity) -> None:
    with ctx.sessions() as session:
        kiosk = session.get(Kiosk, city.kiosk_id)
        assert kiosk is not None
        day1 = NOW + timedelta(hours=1)  # Mon 30 Nov, 10:00 JST
        for i, wait in enumerate(WAITS):
            record(session, city, day1, i, wait_seconds=wait, talk_seconds=600 + i)
        record(session, city, day1 + timedelta(days=1), 20, kind="walk-in", channel="kiosk",
               kiosk_id=kiosk.id, branch_id=kiosk.branch_id, wait_seconds=None)  # fmt: skip
        record(session, city, day1 + timedelta(days=1), 21, no_show=True)
        record(session, city, day1 + timedelta(days=9), 22)  # outside the range
        # Requests: two made in office hours, three outside (night, Saturday, 8:15).
        for i, made in enumerate(
            (
                datetime.fromisoformat("2026-11-30T10:00:00+09:00"),
                datetime.fromisoformat("2026-11-30T17:00:00+09:00"),
                datetime.fromisoformat("2026-11-30T22:30:00+09:00"),
                datetime.fromisoformat("2026-11-28T11:00:00+09:00"),
                datetime.fromisoformat("2026-12-01T08:15:00+09:00"),
            )
        ):
            start = NOW + timedelta(days=5, hours=i)
            b = make_booking(session, city.consult_id, city.staff_ids[0], start)
            b.created_at = made
        session.commit()


def test_dashboard_figures(ctx: AppContext, city: MiniCity) -> None:
    seed(ctx, city)
    with ctx.sessions() as session:
        d = build_dashboard(session, date(2026, 11, 28), date(2026, 12, 2), ctx.tz)
        assert d.calls_per_day == [(date(2026, 11, 30), 8, 0), (date(2026, 12, 1), 1, 1)]
        assert (d.bookings, d.walk_ins, d.calls, d.no_shows) == (9, 1, 10, 1)
        assert d.no_show_rate == pytest.approx(0.1)
        assert d.wait_median == pytest.approx(statistics.median(WAITS))
        p90 = statistics.quantiles(WAITS, n=10, method="inclusive")[8]
        assert d.wait_p90 == pytest.approx(p90)
        assert d.talk_median == pytest.approx(603.5)
        assert d.talk_total == sum(600 + i for i in range(len(WAITS)))
        assert d.kiosk_by_branch == [("北支所", 1)]
        assert (d.requests, d.requests_outside_hours) == (5, 3)
        assert d.outside_hours_share == pytest.approx(0.6)
        other = build_dashboard(session, date(2026, 11, 28), date(2026, 12, 2), ctx.tz, 999_999)
        assert other.calls == 0 and other.wait_median is None and other.no_show_rate is None


def test_the_dashboard_page_draws_accessible_svg_charts(
    client: TestClient, ctx: AppContext, city: MiniCity
) -> None:
    seed(ctx, city)
    token = CSRF.search(client.get("/staff/login").text)
    assert token
    client.post(
        "/staff/login",
        data={"login": "staff0", "password": "pw", "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    page = client.get(
        "/staff/dashboard?first=2026-11-28&last=2026-12-02", headers={"accept-language": "ja"}
    )
    assert page.status_code == 200
    svgs = re.findall(r'<svg class="chart" role="img".*?</svg>', page.text, re.S)
    assert len(svgs) == 3
    for svg in svgs:
        labelled = re.search(r'aria-labelledby="(\S+)-t \1-d"', svg)
        assert labelled and "<title id=" in svg and "<desc id=" in svg
    calls = svgs[0]
    assert "日別の通話数" in calls and "11/30: 予約あり 8, 予約なし来庁 0" in calls
    assert len(re.findall(r"<rect [^>]*height=", calls)) >= 4
    assert 'data-figure="calls">10<' in page.text
    assert 'data-figure="no-show-rate">10.0%<' in page.text
    assert 'data-figure="outside-hours">60.0%<' in page.text
    assert "style=" not in "".join(svgs)


def test_requests_on_a_public_holiday_are_outside_office_hours(
    ctx: AppContext, city: MiniCity
) -> None:
    with ctx.sessions() as session:
        # Monday 23 Nov 2026 is 勤労感謝の日; the Tuesday after is an ordinary day.
        for i, made in enumerate(("2026-11-23T10:00:00+09:00", "2026-11-24T10:00:00+09:00")):
            b = make_booking(
                session, city.consult_id, city.staff_ids[0], NOW + timedelta(days=i + 3)
            )
            b.created_at = datetime.fromisoformat(made)
        session.commit()
        d = build_dashboard(session, date(2026, 11, 23), date(2026, 11, 24), ctx.tz)
        assert (d.requests, d.requests_outside_hours) == (2, 1)
