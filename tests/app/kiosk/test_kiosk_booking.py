"""Outside staffed hours a kiosk offers to book a time at that very kiosk."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from kiosk_page_helpers import kiosk_path
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.clock import FixedClock
from app.core.context import AppContext
from scheduler.models import Booking

# Monday 2026-11-30 19:00 JST: the counter closed at 17:15.
EVENING = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
TEN = "2026-12-01T10:00:00+09:00"


def test_closed_kiosk_offers_to_book_a_time_at_this_kiosk(
    client: TestClient, ctx: AppContext, city: Any, clock: FixedClock
) -> None:
    clock.moment = EVENING
    home = kiosk_path(ctx, city.kiosk_id)
    start = client.get(home + "?lang=ja")
    assert start.status_code == 200
    assert 'class="kiosk-closed"' in start.text and f'href="{home}/menu"' not in start.text
    assert f'href="{home}/walk-in"' in start.text
    walk_in = client.get(home + "/walk-in?lang=ja")
    url = f"http://127.0.0.1:8000/kiosk-booking/{city.kiosk_id}"
    assert url in walk_in.text and 'src="data:image/svg+xml;base64,' in walk_in.text

    # The QR code's page: the services bookable at this kiosk, for this kiosk.
    services = client.get(f"/kiosk-booking/{city.kiosk_id}?lang=ja")
    assert services.status_code == 200 and "北支所1号機" in services.text
    links = re.findall(r'href="(/services/\d+\?kiosk=\d+)"', services.text)
    assert links == [f"/services/{city.consult_id}?kiosk={city.kiosk_id}"]  # online-only left out
    days = client.get(links[0] + "&lang=ja")
    assert f'data-kiosk="{city.kiosk_id}"' in days.text
    assert f"/day/2026-12-01?kiosk={city.kiosk_id}" in days.text
    day = client.get(f"/services/{city.consult_id}/day/2026-12-01?kiosk={city.kiosk_id}")
    assert f"&amp;kiosk={city.kiosk_id}" in day.text
    form = client.get(
        f"/services/{city.consult_id}/book",
        params={"start": TEN, "kiosk": city.kiosk_id, "lang": "ja"},
    )
    assert form.status_code == 200
    assert re.search(r'value="kiosk"[^>]*checked', form.text)
    assert re.search(rf'<option value="{city.kiosk_id}" selected>', form.text)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    r = client.post(
        f"/services/{city.consult_id}/book",
        data={
            "csrf_token": token.group(1),
            "start": TEN,
            "channel": "kiosk",
            "kiosk_id": str(city.kiosk_id),
            "name": "山田 花子",
            "email": "hanako@example.jp",
            "phone": "",
            "mail_locale": "ja",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:300]
    with Session(ctx.engine) as session:
        booking = session.scalars(select(Booking)).one()
        assert (booking.channel, booking.kiosk_id) == ("kiosk", city.kiosk_id)


def test_unknown_or_switched_off_kiosks_have_no_booking_page(
    client: TestClient, ctx: AppContext, city: Any
) -> None:
    assert client.get("/kiosk-booking/9999").status_code == 404
    # A kiosk id for an online-only service is ignored: the normal flow shows.
    days = client.get(f"/services/{city.capped_id}?kiosk={city.kiosk_id}")
    assert days.status_code == 200 and "data-kiosk" not in days.text
