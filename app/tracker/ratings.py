"""The resident's rating of a call (1–5 and an optional comment), joined to its session record.

A rating link is signed for one call room (``Purpose.RATING``): it is shown
only to the resident of that call (their join page, the kiosk's call screen)
and mailed (and sent by LINE) to the booking's resident afterwards. A call
the resident never joined, or one rated already, is refused.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.links import Links
from app.core.outbox import OutboxMail, OutboxStatus
from app.core.tokens import Purpose
from app.counter.models import QueueTicket
from app.tracker.models import CallRating, RatingSource, RecordKind, SessionRecord
from app.tracker.record_builder import RecordBuilder
from scheduler.models import Booking, Department

LINK_VALID = timedelta(days=14)
COMMENT_MAX = 1000
# Mail asking for a rating goes out this long after the call ended, once.
ASK_AFTER = timedelta(minutes=10)
ASK_WITHIN = timedelta(days=2)


class RatingRefused(Exception):
    """``code``: not-in-call | already-rated | score-invalid | comment-too-long."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def rating_token(
    links: Links, room: str, source: RatingSource, now: datetime, back: str = ""
) -> str:
    claims: dict[str, Any] = {"room": room, "src": source.value}
    if back:
        claims["b"] = back
    return links.tokens.issue(Purpose.RATING, claims, expires=now + LINK_VALID)


def rating_url(links: Links, room: str, source: RatingSource, now: datetime, back: str = "") -> str:
    return links.base_url.rstrip("/") + f"/rate/{rating_token(links, room, source, now, back)}"


def record_for_room(session: Session, room: str, now: datetime) -> SessionRecord | None:
    """The call's record, brought up to date (the jobs loop may not have run since it ended)."""
    builder = RecordBuilder(session)
    booking = session.scalar(select(Booking).where(Booking.room_id == room))
    if booking is not None:
        if booking.start_at - timedelta(hours=1) > now:
            return None
        return builder.sync_booking(booking, now)
    ticket = session.scalar(select(QueueTicket).where(QueueTicket.room_id == room))
    if ticket is not None and ticket.accepted_at is not None:
        return builder.sync_walk_in(
            room,
            service_id=ticket.service_id,
            kiosk_id=ticket.kiosk_id,
            started_at=ticket.queued_at,
            now=now,
            queued_at=ticket.queued_at,
        )
    return None


def existing(session: Session, record: SessionRecord) -> CallRating | None:
    return session.scalar(select(CallRating).where(CallRating.record_id == record.id))


def rate(
    session: Session,
    record: SessionRecord | None,
    score: int,
    comment: str,
    source: RatingSource,
    now: datetime,
) -> CallRating:
    """Store the rating; the caller commits."""
    if score not in range(1, 6):
        raise RatingRefused("score-invalid")
    comment = comment.strip()
    if len(comment) > COMMENT_MAX:
        raise RatingRefused("comment-too-long")
    if record is None or record.connected_at is None or record.no_show:
        raise RatingRefused("not-in-call")
    if existing(session, record) is not None:
        raise RatingRefused("already-rated")
    rating = CallRating(
        record_id=record.id, score=score, comment=comment, source=source.value, rated_at=now
    )
    try:
        with session.begin_nested():
            session.add(rating)
    except IntegrityError as exc:  # the same form sent twice at once
        raise RatingRefused("already-rated") from exc
    return rating


# -- asking afterwards ----------------------------------------------------------------------


def queue_requests(session: Session, links: Links, now: datetime) -> int:
    """Mail (and, through the fan-out, LINE) the resident of each booked call that ended."""
    rows = session.execute(
        select(SessionRecord, Booking)
        .join(Booking, Booking.id == SessionRecord.booking_id)
        .outerjoin(CallRating, CallRating.record_id == SessionRecord.id)
        .where(
            SessionRecord.kind == RecordKind.BOOKING.value,
            SessionRecord.connected_at.is_not(None),
            SessionRecord.ended_at.is_not(None),
            SessionRecord.ended_at <= now - ASK_AFTER,
            SessionRecord.ended_at > now - ASK_WITHIN,
            SessionRecord.no_show.is_(False),
            CallRating.id.is_(None),
            Booking.resident_email.is_not(None),
        )
    ).all()
    queued = 0
    for record, booking in rows:
        key = f"rating-request:{record.id}"
        if session.scalar(select(OutboxMail.id).where(OutboxMail.dedup_key == f"{key}:mail")):
            continue
        url = rating_url(links, record.room, RatingSource.LINK, now)
        if booking.locale == "en":
            subject = "How was your consultation?"
            body = (
                f"{booking.resident_name},\n\nThank you for your consultation "
                f"(booking {booking.code}).\nPlease tell us how it went (1–5, one minute): {url}\n"
            )
            label = "Rate it"
        else:
            subject = "【アンケート】ご相談はいかがでしたか"
            body = (
                f"{booking.resident_name} 様\n\nご相談（予約番号 {booking.code}）"
                f"ありがとうございました。\n5段階の評価にご協力ください（1分ほど）：{url}\n"
            )
            label = "評価する"
        session.add(
            OutboxMail(
                kind="rating-request",
                channel="mail",
                to_addr=booking.resident_email,
                subject=subject,
                body=body,
                created_at=now,
                attempts=0,
                status=OutboxStatus.PENDING,
                locale=booking.locale,
                booking_id=booking.id,
                actions=[{"type": "uri", "label": label, "uri": url}],
                dedup_key=f"{key}:mail",
            )
        )
        queued += 1
    session.flush()
    return queued


# -- dashboard and export -------------------------------------------------------------------


@dataclass(frozen=True)
class MonthlyRating:
    department_id: int
    department: str
    month: str  # YYYY-MM, local time
    count: int
    average: float


def monthly(
    session: Session,
    first: date,
    last: date,
    tz: ZoneInfo,
    locale: str,
    department_id: int | None = None,
) -> list[MonthlyRating]:
    """Ratings per department and month of the call, over the calls started in [first, last]."""
    start = datetime.combine(first, datetime.min.time(), tz)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tz)
    query = (
        select(SessionRecord.department_id, SessionRecord.started_at, CallRating.score)
        .join(CallRating, CallRating.record_id == SessionRecord.id)
        .where(SessionRecord.started_at >= start, SessionRecord.started_at < end)
    )
    if department_id is not None:
        query = query.where(SessionRecord.department_id == department_id)
    groups: dict[tuple[int, str], list[int]] = {}
    for dept, started, score in session.execute(query):
        month = started.astimezone(tz).strftime("%Y-%m")
        groups.setdefault((dept, month), []).append(score)
    names = {
        d.id: (d.name_ja if locale == "ja" else d.name_en)
        for d in session.scalars(select(Department))
    }
    return [
        MonthlyRating(
            dept, names.get(dept, str(dept)), month, len(scores), sum(scores) / len(scores)
        )
        for (dept, month), scores in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(CallRating)) or 0)


CSV_HEADER = [
    "record_id",
    "kind",
    "channel",
    "department_id",
    "service_id",
    "started_at",
    "wait_seconds",
    "talk_seconds",
    "outcome",
    "no_show",
    "rating",
    "rating_comment",
    "rating_source",
]


def records_csv(rows: Iterable[tuple[SessionRecord, CallRating | None]], tz: ZoneInfo) -> bytes:
    """Session records with their ratings, UTF-8 with a BOM (Excel opens it as UTF-8)."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for record, rating in rows:
        writer.writerow(
            [
                record.id,
                record.kind,
                record.channel,
                record.department_id,
                record.service_id,
                record.started_at.astimezone(tz).isoformat(),
                record.wait_seconds if record.wait_seconds is not None else "",
                record.talk_seconds if record.talk_seconds is not None else "",
                record.outcome or "",
                "1" if record.no_show else "0",
                rating.score if rating else "",
                _cell(rating.comment) if rating else "",
                rating.source if rating else "",
            ]
        )
    return out.getvalue().encode("utf-8-sig")


def _cell(text: str) -> str:
    """A comment starting like a formula is not run by a spreadsheet (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_rows(
    session: Session, first: date, last: date, tz: ZoneInfo, department_id: int | None = None
) -> list[tuple[SessionRecord, CallRating | None]]:
    start = datetime.combine(first, datetime.min.time(), tz)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tz)
    query = (
        select(SessionRecord, CallRating)
        .outerjoin(CallRating, CallRating.record_id == SessionRecord.id)
        .where(SessionRecord.started_at >= start, SessionRecord.started_at < end)
        .order_by(SessionRecord.started_at, SessionRecord.id)
    )
    if department_id is not None:
        query = query.where(SessionRecord.department_id == department_id)
    return [(record, rating) for record, rating in session.execute(query).all()]
