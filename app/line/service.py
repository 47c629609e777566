"""Answering LINE events from the queue (``line_events``), in the jobs loop.

follow: a greeting that says how to link. unfollow (also sent when the user
blocks the account): every link goes inactive. message: a booking code or
application reference starts a link check; the next message is the answer
(the phone number or e-mail given at booking). postback: the rich menu's
questions, 「通知を停止」, and claiming a waiting-list offer.

Linking gives no hint whether a code exists: an unknown code is asked the
same check question, and a wrong code or a wrong answer get the same reply.
Failures are counted per LINE user (app/core/ratelimit.py); over the limit
the bot refuses to check anything until the window ends.

Every answer is a ``line`` outbox row (pushed, retried, exactly once), keyed
by the event, so an event processed twice after a crash answers once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import parse_qs

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from app.booking.notify import english_when, japanese_when
from app.core.context import AppContext
from app.core.i18n import gettext
from app.core.outbox import OutboxMail, OutboxStatus
from app.core.ratelimit import Rule
from app.counter.settings import CounterSettings
from app.line.crowding import branch_waits
from app.line.fanout import booking_actions
from app.line.links import answer_matches, deactivate, link, normal
from app.line.messages import uri
from app.line.models import EventStatus, LineEvent, LineLink, LinkCheck, LinkVia
from app.tracker.models import Application
from scheduler.errors import SchedulerError
from scheduler.models import Booking, BookingStatus, WaitlistEntry
from scheduler.service import SchedulingService

log = logging.getLogger(__name__)

BOOKING_CODE = re.compile(r"^(?:MDG-?)?([2-9A-HJ-NP-Z]{6})$")
APPLICATION_REF = re.compile(r"^A\d{2}-\d{7}$")
CHECK_VALID = timedelta(minutes=15)
MAX_EVENT_ATTEMPTS = 5
ANSWER_KIND = "line-answer"

# Called with a booking made by claiming a waiting-list offer (the confirmation mail).
Confirmed = Callable[[Session, Booking], None]


def link_rule(ctx: AppContext) -> Rule:
    return Rule("line-link", ctx.settings.line_link_max_failures, timedelta(hours=1))


def both(message: str, **params: object) -> str:
    """The bot does not know the user's language before a link: Japanese, then English."""
    return gettext("ja", message, **params) + "\n\n" + gettext("en", message, **params)


class LineBot:
    def __init__(
        self,
        session: Session,
        ctx: AppContext,
        counter: CounterSettings,
        confirmed: Confirmed,
    ) -> None:
        self.session, self.ctx, self.counter, self.confirmed = session, ctx, counter, confirmed
        self.now = ctx.clock.now()
        self._answers = 0
        self._event: LineEvent | None = None

    # -- answers ------------------------------------------------------------------------------

    def answer(
        self,
        user: str,
        text: str,
        actions: list[dict[str, str]] | None = None,
        *,
        locale: str = "ja",
        booking_id: int | None = None,
    ) -> None:
        assert self._event is not None
        self._answers += 1
        self.session.add(
            OutboxMail(
                kind=ANSWER_KIND,
                channel="line",
                to_addr=user,
                subject="",
                body=text,
                created_at=self.now,
                attempts=0,
                status=OutboxStatus.PENDING,
                locale=locale,
                booking_id=booking_id,
                actions=actions,
                fanned_out=True,
                dedup_key=f"line-answer:{self._event.webhook_event_id}:{self._answers}",
            )
        )

    # -- events -------------------------------------------------------------------------------

    def handle(self, event: LineEvent) -> None:
        self._event, self._answers = event, 0
        user = event.line_user_id
        if user is None:
            return  # a group or room: the bot only talks to single users
        payload = event.payload
        if event.event_type == "follow":
            self.answer(
                user,
                both(
                    "Thank you for adding us. To get your booking's notices here, "
                    "send its booking code (MDG-…) or your application reference (A…)."
                ),
            )
        elif event.event_type == "unfollow":
            deactivate(self.session, user, self.now)
            self.session.execute(delete(LinkCheck).where(LinkCheck.line_user_id == user))
        elif event.event_type == "message":
            message = payload.get("message")
            if isinstance(message, dict) and message.get("type") == "text":
                self.text(user, str(message.get("text", "")))
            else:
                self.answer(user, both("Please send your booking code as text."))
        elif event.event_type == "postback":
            data = payload.get("postback")
            self.postback(user, str(data.get("data", "")) if isinstance(data, dict) else "")

    def text(self, user: str, text: str) -> None:
        check = self.session.get(LinkCheck, user)
        if check is not None and check.expires_at > self.now:
            self.check_answer(user, check, text)
            return
        if check is not None:
            self.session.delete(check)
            self.session.flush()
        code = normal(text).upper()
        booking_match = BOOKING_CODE.match(code)
        if booking_match or APPLICATION_REF.match(code):
            self.start_check(user, code, booking_match)
            return
        self.answer(
            user,
            both("To link a booking, send its booking code (MDG-…) or application reference (A…)."),
        )

    def _blocked(self, user: str) -> bool:
        return self.ctx.limiter.blocked(link_rule(self.ctx), user, self.now) is not None

    def start_check(self, user: str, code: str, booking_match: re.Match[str] | None) -> None:
        if self._blocked(user):
            self.answer(user, both("Too many attempts. Please try again later."))
            return
        booking_id = application_id = None
        locale = "ja"
        if booking_match:
            booking = self.session.scalar(
                select(Booking).where(Booking.code == "MDG-" + booking_match.group(1))
            )
            if booking is not None:
                booking_id, locale = booking.id, booking.locale
        else:
            application = self.session.scalar(
                select(Application).where(Application.reference == code)
            )
            if application is not None:
                application_id, locale = application.id, application.locale
        # Stored even for an unknown code: the question that follows is the same.
        self.session.merge(
            LinkCheck(
                line_user_id=user,
                booking_id=booking_id,
                application_id=application_id,
                locale=locale,
                expires_at=self.now + CHECK_VALID,
            )
        )
        self.answer(
            user,
            both(
                "To confirm it is yours, send the phone number or e-mail address "
                "you gave when booking or applying."
            ),
        )

    def check_answer(self, user: str, check: LinkCheck, text: str) -> None:
        self.session.delete(check)
        self.session.flush()
        if self._blocked(user):
            self.answer(user, both("Too many attempts. Please try again later."))
            return
        booking = self.session.get(Booking, check.booking_id) if check.booking_id else None
        application = (
            self.session.get(Application, check.application_id) if check.application_id else None
        )
        ok = False
        if booking is not None and booking.status != BookingStatus.CANCELLED:
            ok = answer_matches(text, booking.resident_email, booking.resident_phone)
        elif application is not None:
            ok = answer_matches(text, application.resident_email, None)
        if not ok:
            self.ctx.limiter.hit(link_rule(self.ctx), user, self.now)
            self.answer(
                user,
                both(
                    "We could not confirm this. Check the code and the answer, "
                    "then send the code again."
                ),
            )
            return
        if booking is not None:
            self.link(user, booking_id=booking.id)
            self.answer(
                user,
                self.booking_details(booking, "Linked. Notices about this booking now come here."),
                booking_actions(booking, self.ctx.links, booking.locale),
                locale=booking.locale,
                booking_id=booking.id,
            )
        elif application is not None:
            self.link(user, application_id=application.id)
            loc = application.locale
            url = self.ctx.links.application_url(application.id, application.reference)
            self.answer(
                user,
                gettext(loc, "Linked. Notices about this application now come here.")
                + f"\n\n{application.procedure}\n{application.reference}",
                [uri(gettext(loc, "See the application"), url)],
                locale=loc,
            )

    def link(
        self,
        user: str,
        *,
        booking_id: int | None = None,
        application_id: int | None = None,
        waitlist_entry_id: int | None = None,
        via: LinkVia = LinkVia.CODE,
    ) -> LineLink:
        return link(
            self.session,
            user,
            self.now,
            booking_id=booking_id,
            application_id=application_id,
            waitlist_entry_id=waitlist_entry_id,
            via=via,
        )

    def booking_details(self, booking: Booking, headline: str) -> str:
        loc = booking.locale
        service = booking.service
        if loc == "en":
            when = english_when(booking, self.ctx)
            what = f"{service.department.name_en} / {service.name_en}"
        else:
            when = japanese_when(booking, self.ctx)
            what = f"{service.department.name_ja}　{service.name_ja}"
        return (
            gettext(loc, headline)
            + f"\n\n{gettext(loc, 'Booking code')}: {booking.code}\n{when}\n{what}"
        )

    # -- postbacks (rich menu, buttons) ---------------------------------------------------

    def postback(self, user: str, data: str) -> None:
        params = {k: v[0] for k, v in parse_qs(data).items()}
        action = params.get("action", "")
        if action == "stop":
            count = deactivate(self.session, user, self.now)
            self.answer(
                user,
                both("Notices are stopped. Send a booking code to link again.")
                if count
                else both("Nothing is linked to this LINE account."),
            )
        elif action == "bookings":
            self.my_bookings(user)
        elif action == "applications":
            self.my_applications(user)
        elif action == "wait":
            self.crowding(user)
        elif action == "claim" and params.get("entry", "").isdigit():
            self.claim(user, int(params["entry"]))
        else:
            self.answer(user, both("Sorry, that button is no longer valid."))

    def _active(self, user: str) -> list[LineLink]:
        return list(
            self.session.scalars(
                select(LineLink)
                .where(LineLink.line_user_id == user, LineLink.active.is_(True))
                .order_by(LineLink.id)
            )
        )

    def my_bookings(self, user: str) -> None:
        found = False
        for row in self._active(user):
            booking = self.session.get(Booking, row.booking_id) if row.booking_id else None
            if booking is None or booking.status == BookingStatus.CANCELLED:
                continue
            if booking.end_at < self.now:
                continue
            found = True
            self.answer(
                user,
                self.booking_details(booking, "Your booking"),
                booking_actions(booking, self.ctx.links, booking.locale),
                locale=booking.locale,
                booking_id=booking.id,
            )
        if not found:
            self.answer(
                user,
                both("No upcoming booking is linked. Send a booking code to link one."),
            )

    def my_applications(self, user: str) -> None:
        lines = []
        for row in self._active(user):
            application = (
                self.session.get(Application, row.application_id) if row.application_id else None
            )
            if application is None:
                continue
            url = self.ctx.links.application_url(application.id, application.reference)
            lines.append(f"{application.reference} {application.procedure}\n{url}")
        if lines:
            self.answer(user, "\n\n".join(lines))
        else:
            self.answer(
                user,
                both("No application is linked. Send an application reference to link one."),
            )

    def crowding(self, user: str) -> None:
        waits = branch_waits(self.session, self.ctx.tz, self.counter, self.now)
        if not waits:
            self.answer(user, both("No counter is open for walk-in calls."))
            return
        ja = [f"{w.name_ja}：{w.waiting}人待ち、約{_minutes(w.wait)}分" for w in waits]
        en = [f"{w.name_en}: {w.waiting} waiting, about {_minutes(w.wait)} min" for w in waits]
        self.answer(
            user, "窓口の混雑（現在）\n" + "\n".join(ja) + "\n\nWaiting now\n" + "\n".join(en)
        )

    def claim(self, user: str, entry_id: int) -> None:
        linked = self.session.scalar(
            select(LineLink.id).where(
                LineLink.line_user_id == user,
                LineLink.waitlist_entry_id == entry_id,
                LineLink.active.is_(True),
            )
        )
        entry = self.session.get(WaitlistEntry, entry_id)
        if linked is None or entry is None:
            self.answer(user, both("Sorry, that button is no longer valid."))
            return
        try:
            with self.session.begin_nested():
                booking = SchedulingService(self.session, tz=self.ctx.tz).claim_offer(
                    entry_id, self.now
                )
        except SchedulerError:
            self.answer(
                user,
                gettext(entry.locale, "Sorry, this time is no longer available."),
                locale=entry.locale,
            )
            return
        self.link(user, booking_id=booking.id)
        self.confirmed(self.session, booking)
        self.answer(
            user,
            self.booking_details(booking, "Booked. Notices about this booking now come here."),
            booking_actions(booking, self.ctx.links, booking.locale),
            locale=booking.locale,
            booking_id=booking.id,
        )


def _minutes(wait: timedelta) -> int:
    return int(wait.total_seconds() // 60)


def process_events(
    sessions: sessionmaker[Session],
    ctx: AppContext,
    counter: CounterSettings,
    confirmed: Confirmed,
    *,
    limit: int = 100,
) -> int:
    """Answer queued events, each in its own transaction; returns how many were handled."""
    forget_before = ctx.clock.now() - timedelta(
        minutes=ctx.settings.line_event_max_age_minutes, days=1
    )
    with sessions() as session, session.begin():
        # Older events are refused as replays anyway: their ids are not needed.
        session.execute(
            delete(LineEvent).where(
                LineEvent.status == EventStatus.DONE, LineEvent.received_at < forget_before
            )
        )
    with sessions() as session:
        ids = list(
            session.scalars(
                select(LineEvent.id)
                .where(LineEvent.status == EventStatus.PENDING)
                .order_by(LineEvent.id)
                .limit(limit)
            )
        )
    done = 0
    for event_id in ids:
        with sessions() as session:
            try:
                with session.begin():
                    event = session.scalars(
                        select(LineEvent)
                        .where(LineEvent.id == event_id, LineEvent.status == EventStatus.PENDING)
                        .with_for_update(skip_locked=True)
                    ).first()
                    if event is None:
                        continue  # another worker has it
                    LineBot(session, ctx, counter, confirmed).handle(event)
                    # The text may hold a phone number or e-mail (the check answer):
                    # once answered, only the id is kept, to recognise a redelivery.
                    event.payload = {"type": event.event_type}
                    event.status = EventStatus.DONE
                    event.processed_at = ctx.clock.now()
                    event.attempts += 1
                done += 1
            except Exception as exc:  # one bad event must not stop the queue
                log.exception("LINE event %s failed", event_id)
                with session.begin():
                    event = session.get(LineEvent, event_id)
                    if event is not None:
                        event.attempts += 1
                        event.last_error = f"{type(exc).__name__}: {exc}"[:500]
                        if event.attempts >= MAX_EVENT_ATTEMPTS:
                            event.status = EventStatus.FAILED
    return done
