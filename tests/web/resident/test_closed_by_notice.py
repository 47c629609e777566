"""One rule for a day the booking notice has closed: 受付終了, never 満席 with a waiting list.

The test city's 転入の相談 needs two hours' notice and the office closes at
17:15; at 16:00 on Monday no time is left that day.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from tests_app_helpers import book  # type: ignore[import-not-found]

from app.core.clock import FixedClock
from app.core.context import AppContext

MONDAY_1600 = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # 16:00 JST
TODAY = "2026-11-30"


def test_a_day_closed_by_notice_says_so_and_offers_no_waiting_list(
    client: TestClient, city, clock: FixedClock
) -> None:
    clock.moment = MONDAY_1600
    days = client.get(f"/services/{city.consult_id}")
    assert days.status_code == 200
    today_item = days.text.split("11月30日", 1)[1].split("</li>", 1)[0]
    assert "受付終了" in today_item
    assert "キャンセル待ち" not in today_item
    assert f"/day/{TODAY}" not in days.text  # not a link: nothing to choose there

    day = client.get(f"/services/{city.consult_id}/day/{TODAY}")
    assert "この日の予約受付は終了しました" in day.text
    assert 'action="/waitlist"' not in day.text

    english = client.get(f"/services/{city.consult_id}?lang=en")
    assert "Bookings closed" in english.text


def test_joining_the_waiting_list_for_a_day_closed_by_notice_is_refused(
    client: TestClient, city, clock: FixedClock
) -> None:
    clock.moment = MONDAY_1600
    r = client.post(
        "/api/v1/waitlist",
        json={"service_id": city.consult_id, "day": TODAY, "name": "待ち", "email": "w@x.jp"},
    )
    assert r.status_code == 422, r.text
    # The next day is open: the same request is taken.
    r = client.post(
        "/api/v1/waitlist",
        json={
            "service_id": city.consult_id,
            "day": "2026-12-01",
            "name": "待ち",
            "email": "w@x.jp",
        },
    )
    assert r.status_code == 201, r.text


def test_the_change_date_list_shows_the_same_rule(
    client: TestClient, city, ctx: AppContext, clock: FixedClock
) -> None:
    booked = book(client, city.consult_id, "2026-12-02T10:00:00+09:00").json()
    clock.moment = MONDAY_1600
    token = booked["manage_url"].rsplit("/", 1)[1]
    r = client.get(f"/manage/{token}/change")
    assert r.status_code == 200
    today_item = r.text.split("11月30日", 1)[1].split("</li>", 1)[0]
    assert "受付終了" in today_item
