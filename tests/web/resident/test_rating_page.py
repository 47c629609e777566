"""/rate/{token}: a resident rates a call once; a call they were not in cannot be rated."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from admin_page_helpers import csrf_of  # type: ignore[import-not-found]
from fastapi.testclient import TestClient
from rating_helpers import START, finished_call  # type: ignore[import-not-found]
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.tokens import Purpose
from app.tracker.models import CallRating, RatingSource, SessionRecord
from app.tracker.ratings import rating_url
from scheduler.models import Booking


def after_the_call(clock: FixedClock) -> None:
    clock.moment = START + timedelta(minutes=25)


def send(client: TestClient, url: str, score: str, comment: str = "") -> Any:
    path = url.split("127.0.0.1:8000", 1)[1]
    form = client.get(path)
    assert form.status_code == 200, form.text[:300]
    return client.post(
        path, data={"csrf_token": csrf_of(form.text), "score": score, "comment": comment}
    )


def ratings(ctx: AppContext) -> list[tuple[CallRating, SessionRecord]]:
    with Session(ctx.engine) as s:
        return [
            (r, rec)
            for r, rec in s.execute(
                select(CallRating, SessionRecord).join(
                    SessionRecord, SessionRecord.id == CallRating.record_id
                )
            ).all()
        ]


def test_a_resident_rates_their_call_once(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any
) -> None:
    booking_id, room = finished_call(ctx.engine, city.consult_id, city.staff_ids[0])
    after_the_call(clock)
    url = rating_url(ctx.links, room, RatingSource.HOME, clock.now())
    done = send(client, url, "4", "丁寧でした")
    assert done.status_code == 200 and 'id="rating-thanks"' in done.text
    ((rating, record),) = ratings(ctx)
    assert (rating.score, rating.comment, rating.source) == (4, "丁寧でした", "home")
    assert record.booking_id == booking_id and record.room == room
    again = client.get(url.split("127.0.0.1:8000", 1)[1])
    assert again.status_code == 409 and 'data-code="already-rated"' in again.text


def test_a_second_rating_sent_from_an_open_form_is_refused(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any
) -> None:
    _, room = finished_call(ctx.engine, city.consult_id, city.staff_ids[0])
    after_the_call(clock)
    path = rating_url(ctx.links, room, RatingSource.HOME, clock.now()).split(":8000", 1)[1]
    token = csrf_of(client.get(path).text)
    first = client.post(path, data={"csrf_token": token, "score": "5"})
    second = client.post(path, data={"csrf_token": token, "score": "1"})
    assert first.status_code == 200 and second.status_code == 409
    assert [r.score for r, _ in ratings(ctx)] == [5]


def test_a_call_the_resident_was_not_in_cannot_be_rated(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any
) -> None:
    _, room = finished_call(ctx.engine, city.consult_id, city.staff_ids[0], resident_joined=False)
    after_the_call(clock)
    refused = send(client, rating_url(ctx.links, room, RatingSource.LINK, clock.now()), "1")
    assert refused.status_code == 403 and 'data-code="not-in-call"' in refused.text
    assert ratings(ctx) == []


def test_a_made_up_room_or_a_forged_token_is_refused(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any
) -> None:
    after_the_call(clock)
    nobody = send(
        client, rating_url(ctx.links, "room-of-nobody", RatingSource.HOME, clock.now()), "5"
    )
    assert nobody.status_code == 403
    forged = ctx.tokens.issue(Purpose.MANAGE, {"room": "x", "src": "home"})
    assert client.get(f"/rate/{forged}").status_code == 403
    assert ratings(ctx) == []


def test_a_score_outside_1_to_5_is_refused(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any
) -> None:
    _, room = finished_call(ctx.engine, city.consult_id, city.staff_ids[0])
    after_the_call(clock)
    url = rating_url(ctx.links, room, RatingSource.HOME, clock.now())
    for bad in ("0", "6", "x", ""):
        r = send(client, url, bad)
        assert r.status_code == 422 and 'data-code="score-invalid"' in r.text
    assert ratings(ctx) == []


def test_the_resident_join_page_links_to_the_rating(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any
) -> None:
    booking_id, _room = finished_call(ctx.engine, city.consult_id, city.staff_ids[0])
    clock.moment = START - timedelta(minutes=5)
    with Session(ctx.engine) as s:
        booking = s.get(Booking, booking_id)
        assert booking is not None
        resident = ctx.links.join_token(booking)
    page = client.get(f"/join/{resident}")
    href = re.search(r'id="rate-link" href="([^"]+)"', page.text)
    assert href is not None and "/rate/" in href.group(1)
