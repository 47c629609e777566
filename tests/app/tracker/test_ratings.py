"""Ratings afterwards: the request mail (and its LINE copy), the dashboard and the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from admin_page_helpers import login  # type: ignore[import-not-found]
from fastapi.testclient import TestClient
from rating_helpers import START, finished_call  # type: ignore[import-not-found]
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.outbox import OutboxMail
from app.line.fanout import fan_out
from app.line.links import link
from app.line.models import LinkVia
from app.tracker.models import RatingSource
from app.tracker.ratings import queue_requests, rate, record_for_room
from app.tracker.record_builder import RecordBuilder


def requests_of(ctx: AppContext) -> list[OutboxMail]:
    with Session(ctx.engine) as s:
        return list(
            s.scalars(
                select(OutboxMail)
                .where(OutboxMail.kind == "rating-request")
                .order_by(OutboxMail.id)
            )
        )


def test_the_resident_is_asked_once_by_mail_and_line_ten_minutes_after(
    ctx: AppContext, clock: FixedClock, city: Any
) -> None:
    booking_id, _ = finished_call(ctx.engine, city.consult_id, city.staff_ids[0])
    _, absent = finished_call(
        ctx.engine,
        city.consult_id,
        city.staff_ids[1],
        resident_joined=False,
        start=START + timedelta(hours=1),
    )
    with Session(ctx.engine) as s, s.begin():
        link(s, "U" + "d" * 32, clock.now(), booking_id=booking_id, via=LinkVia.CODE)
    clock.moment = START + timedelta(minutes=25)  # 5 minutes after the end: not yet
    with Session(ctx.engine) as s, s.begin():
        record_for_room(s, absent, clock.now())
        assert queue_requests(s, ctx.links, clock.now()) == 0
    clock.moment = START + timedelta(minutes=31)
    for _ in range(2):
        with Session(ctx.engine) as s, s.begin():
            RecordBuilder(s).sync_due(clock.now())
            queue_requests(s, ctx.links, clock.now())
            fan_out(s, ctx.links, clock.now())
    mail, line = requests_of(ctx)
    assert mail.channel == "mail" and mail.to_addr == "taro@example.jp"
    assert "/rate/" in mail.body and mail.booking_id == booking_id
    assert line.channel == "line" and line.actions and "/rate/" in line.actions[0]["uri"]


def test_dashboard_shows_ratings_per_department_and_month_and_the_csv_carries_them(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any
) -> None:
    scores = [5, 3]
    for i, score in enumerate(scores):
        _, room = finished_call(
            ctx.engine, city.consult_id, city.staff_ids[i], start=START + timedelta(hours=i)
        )
        clock.moment = START + timedelta(hours=i, minutes=25)
        with Session(ctx.engine) as s, s.begin():
            record = record_for_room(s, room, clock.now())
            rate(
                s, record, score, "=cmd|' /C calc'!A0" if i else "", RatingSource.KIOSK, clock.now()
            )
    login(client)
    page = client.get("/staff/dashboard?first=2026-12-01&last=2026-12-31")
    assert page.status_code == 200
    table = page.text.split('id="ratings"', 1)[1].split("</table>", 1)[0]
    assert "2026-12" in table and "市民課" in table and "4.0" in table
    export = client.get(
        "/staff/dashboard/records.csv?first=2026-12-01&last=2026-12-31&department_id="
    )
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert [r["rating"] for r in rows] == ["5", "3"]
    assert rows[1]["rating_comment"].startswith("'=")  # not run as a formula
    assert {r["rating_source"] for r in rows} == {"kiosk"}
