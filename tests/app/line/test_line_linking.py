"""Linking a LINE user to a booking: code, then the check answer; no hint; rate-limited; unlink."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from line_helpers import CHANNEL_SECRET, USER, event, post, postback, text  # type: ignore[import-not-found]
from line_platform import LinePlatform  # type: ignore[import-not-found]
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests_app_helpers import book  # type: ignore[import-not-found]

from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.i18n import gettext
from app.line.models import LineEvent, LineLink
from app.ops import jobs
from app.tracker.audit import Actor
from app.tracker.service import ApplicationService, NewApplication
from app.tracker.status_mail import StatusMail

TEN = "2026-12-01T10:00:00+09:00"
ELEVEN = "2026-12-01T11:00:00+09:00"


def links(ctx: AppContext) -> list[LineLink]:
    with Session(ctx.engine) as s:
        return list(s.scalars(select(LineLink).order_by(LineLink.id)))


def say(client: TestClient, ctx: AppContext, *events: dict[str, Any]) -> None:
    assert post(client, CHANNEL_SECRET, *events).status_code == 200
    jobs.run_once(ctx, None)


def last_texts(line: LinePlatform) -> list[str]:
    (push,) = line.pushes()[-1:]
    return [m.get("text") or m.get("altText", "") for m in push["json"]["messages"]]


def booked(client: TestClient, city: Any, start: str = TEN) -> dict[str, Any]:
    r = book(client, city.consult_id, start, phone="090-1234-5678")
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def test_code_then_phone_links_and_replies_with_the_details_and_buttons(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any, line: LinePlatform
) -> None:
    code = booked(client, city)["code"]
    say(client, ctx, text(clock.now(), code.lower()))
    assert "電話番号かメールアドレス" in last_texts(line)[0]
    assert links(ctx) == []
    say(client, ctx, text(clock.now(), "０９０１２３４５６７８"))  # full-width digits
    (row,) = links(ctx)
    assert row.line_user_id == USER and row.active and row.via == "code"
    push = line.pushes()[-1]["json"]
    assert code in push["messages"][0]["text"]
    assert "2026年12月1日(火) 10:00〜10:30" in push["messages"][0]["text"]
    buttons = push["messages"][1]["template"]["actions"]
    labels = ["Join the call", "Change or cancel", "Add to calendar"]
    assert [b["label"] for b in buttons] == [gettext("ja", label) for label in labels]
    assert "/join/" in buttons[0]["uri"] and "/manage/" in buttons[1]["uri"]
    assert buttons[2]["uri"].endswith("/booking.ics")


def test_the_email_given_at_booking_also_answers_the_check(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any, line: LinePlatform
) -> None:
    code = booked(client, city)["code"]
    say(client, ctx, text(clock.now(), code))
    say(client, ctx, text(clock.now(), "Hanako@Example.jp"))
    assert len(links(ctx)) == 1


def test_a_wrong_answer_and_an_unknown_code_get_the_same_question_and_reply(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any, line: LinePlatform
) -> None:
    code = booked(client, city)["code"]
    say(client, ctx, text(clock.now(), code))
    question_known = last_texts(line)
    say(client, ctx, text(clock.now(), "03-0000-0000"))
    refusal_known = last_texts(line)
    say(client, ctx, text(clock.now(), "MDG-ZZZZZZ"))
    question_unknown = last_texts(line)
    say(client, ctx, text(clock.now(), "090-1234-5678"))
    refusal_unknown = last_texts(line)
    assert question_known == question_unknown
    assert refusal_known == refusal_unknown
    assert "確認できませんでした" in refusal_known[0]
    assert links(ctx) == []


def test_linking_is_rate_limited_per_line_user(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any, line: LinePlatform
) -> None:
    ctx.settings = ctx.settings.model_copy(update={"line_link_max_failures": 2})
    code = booked(client, city)["code"]
    for _ in range(2):
        say(client, ctx, text(clock.now(), code))
        say(client, ctx, text(clock.now(), "wrong@example.jp"))
    say(client, ctx, text(clock.now(), code))
    assert "試行回数が多すぎます" in last_texts(line)[0]
    say(client, ctx, text(clock.now(), "090-1234-5678"))
    assert links(ctx) == []
    other = "U" + "b" * 32  # another user is not affected
    say(client, ctx, text(clock.now(), code, user=other), text(clock.now(), "", user=other))
    assert links(ctx) == []


def test_stop_postback_and_unfollow_make_links_inactive(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any, line: LinePlatform
) -> None:
    for start in (TEN, ELEVEN):
        code = booked(client, city, start)["code"]
        say(client, ctx, text(clock.now(), code))
        say(client, ctx, text(clock.now(), "09012345678"))
    assert [row.active for row in links(ctx)] == [True, True]
    say(client, ctx, postback(clock.now(), "action=stop"))
    assert [row.active for row in links(ctx)] == [False, False]
    assert "通知を停止しました" in last_texts(line)[0]

    code = booked(client, city, "2026-12-01T14:00:00+09:00")["code"]
    say(client, ctx, text(clock.now(), code))
    say(client, ctx, text(clock.now(), "09012345678"))
    assert [row.active for row in links(ctx)] == [False, False, True]
    say(client, ctx, event("unfollow", clock.now()))
    assert not any(row.active for row in links(ctx))


def test_an_application_reference_and_its_email_link_the_application(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any, line: LinePlatform
) -> None:
    with Session(ctx.engine) as s, s.begin():
        svc = ApplicationService(s, StatusMail(s, ctx.links), clock.now())
        new = NewApplication(
            "転入届", "山田 花子", city.dept_id, resident_email="hanako@example.jp"
        )
        app = svc.open(new, Actor(city.staff_ids[0]))
        reference, app_id = app.reference, app.id
    say(client, ctx, text(clock.now(), reference))
    say(client, ctx, text(clock.now(), "hanako@example.jp"))
    (row,) = links(ctx)
    assert row.application_id == app_id and row.booking_id is None
    with Session(ctx.engine) as s, s.begin():
        svc = ApplicationService(s, StatusMail(s, ctx.links), clock.now())
        application = svc.get(app_id)
        assert application is not None
        svc.request_document(application, "住民票の写し", Actor(city.staff_ids[0]))
    jobs.run_once(ctx, None)
    push = line.pushes()[-1]["json"]
    assert "住民票の写し" in push["messages"][0]["text"]
    assert "/status/" in push["messages"][1]["template"]["actions"][0]["uri"]


def test_answered_events_keep_no_message_text(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any, line: LinePlatform
) -> None:
    code = booked(client, city)["code"]
    say(client, ctx, text(clock.now(), code), text(clock.now(), "090-1234-5678"))
    with Session(ctx.engine) as s:
        payloads = [e.payload for e in s.scalars(select(LineEvent))]
    assert payloads == [{"type": "message"}, {"type": "message"}]
    assert "090" not in str(payloads)
