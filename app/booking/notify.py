"""Resident mail, written to the outbox in the same transaction as the change.

Nothing is sent here: ``app.core.outbox`` delivers outbox rows, so a booking that
rolls back never sends a confirmation, and a crash never loses one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from app.booking.views import booking_ics, calendar_event, interpreter_label
from app.core.context import AppContext
from app.core.outbox import OutboxMail, OutboxStatus, awaiting_calendar
from scheduler.ical import booking_calendar
from scheduler.models import Booking, Interpreter, Service, WaitlistEntry

WEEKDAYS_JA = "月火水木金土日"


def japanese_when(booking: Booking, ctx: AppContext) -> str:
    """2026年12月3日(木) 14:00〜14:30"""
    start = booking.start_at.astimezone(ctx.tz)
    end = booking.end_at.astimezone(ctx.tz)
    return (
        f"{start.year}年{start.month}月{start.day}日({WEEKDAYS_JA[start.weekday()]}) "
        f"{start:%H:%M}〜{end:%H:%M}"
    )


def english_when(booking: Booking, ctx: AppContext) -> str:
    start = booking.start_at.astimezone(ctx.tz)
    end = booking.end_at.astimezone(ctx.tz)
    return f"{start:%a %d %b %Y}, {start:%H:%M}–{end:%H:%M} (Japan time)"


REMINDER_KIND = "booking-reminder"
_INSERT_OUTBOX = insert(cast(Table, OutboxMail.__table__))


class Notifier:
    def __init__(self, session: Session, ctx: AppContext) -> None:
        self.session = session
        self.ctx = ctx

    def _queue(
        self,
        kind: str,
        to: str | None,
        subject: str,
        body: str,
        ics: bytes | None = None,
        *,
        locale: str = "ja",
        booking: Booking | None = None,
        phone: str | None = None,
        dedup_key: str | None = None,
        waitlist_entry_id: int | None = None,
    ) -> None:
        now = self.ctx.clock.now()
        recipients = [("mail", to)]
        if self.ctx.settings.webhook_url:
            # Gateways (LINE, SMS) reach residents by phone where they gave one.
            recipients.append(("webhook", phone or to))
        rows = [
            {
                "kind": kind,
                "channel": channel,
                "to_addr": address,
                "subject": subject,
                "body": body,
                "ics": ics.decode() if ics and channel == "mail" else None,
                "created_at": now,
                "attempts": 0,
                "status": OutboxStatus.PENDING,
                "locale": locale,
                "booking_id": booking.id if booking is not None else None,
                "waitlist_entry_id": waitlist_entry_id,
                "dedup_key": f"{dedup_key}:{channel}" if dedup_key else None,
            }
            for channel, address in recipients
            # Phone-only residents (代理予約) get a printed slip instead.
            if address
        ]
        if rows:
            # A Core INSERT at once, not an OutboxMail for the unit of work:
            # that flush cost more CPU than the rest of the mail (docs/benchmarks.md,
            # booking storm). A duplicate ``dedup_key`` raises here, inside the
            # caller's savepoint, instead of at the next flush.
            self.session.connection().execute(_INSERT_OUTBOX, rows)

    def _booking_mail(
        self,
        kind: str,
        booking: Booking,
        title_ja: str,
        title_en: str,
        *,
        dedup_key: str | None = None,
    ) -> None:
        links = self.ctx.links
        service = booking.service
        if booking.locale == "en":
            subject = f"[{service.department.name_en}] {title_en}: {service.name_en}"
            body = (
                f"{booking.resident_name},\n\n{title_en}.\n\n"
                f"Booking code: {booking.code}\n"
                f"When: {english_when(booking, self.ctx)}\n"
                f"Service: {service.department.name_en} / {service.name_en}\n\n"
                f"Join the video call (opens 15 minutes before): {links.join_url(booking)}\n"
                f"Change or cancel: {links.manage_url(booking)}\n"
            )
        else:
            subject = f"【{service.department.name_ja}】{title_ja}：{service.name_ja}"
            body = (
                f"{booking.resident_name} 様\n\n{title_ja}。\n\n"
                f"予約番号：{booking.code}\n"
                f"日時：{japanese_when(booking, self.ctx)}\n"
                f"内容：{service.department.name_ja}　{service.name_ja}\n\n"
                f"ビデオ通話への参加（開始15分前から）：{links.join_url(booking)}\n"
                f"予約の変更・取消：{links.manage_url(booking)}\n"
            )
        # The .ics is rendered by the worker (attach_calendars), not here: it
        # was the largest single cost of a booking request (docs/benchmarks.md).
        self._queue(
            kind,
            booking.resident_email,
            subject,
            body,
            locale=booking.locale,
            booking=booking,
            phone=booking.resident_phone,
            dedup_key=dedup_key,
        )

    def attach_calendars(self, limit: int | None = None) -> int:
        """Render the .ics of queued booking mails that carry one; returns how many.

        Runs in the worker before delivery, so the rendered file is stored with
        the row and a resend after a crash attaches the same bytes. It shows
        the booking as it is when rendered, seconds after the request: if it
        changed in between, the file already has the newer time or the
        cancellation, with a higher SEQUENCE, which is what calendars want.
        """
        rows = self.session.scalars(
            select(OutboxMail)
            .where(OutboxMail.status == OutboxStatus.PENDING, awaiting_calendar())
            .order_by(OutboxMail.id)
            .limit(limit)
        ).all()
        done = 0
        for row in rows:
            assert row.booking_id is not None
            booking = self.session.get(Booking, row.booking_id)
            if booking is None:
                row.ics = ""  # erased since: the mail goes without a calendar file
                continue
            row.ics = booking_ics(booking, self.ctx.links, self.ctx.tz).decode()
            done += 1
        return done

    def _drop_pending_reminders(self, booking: Booking) -> None:
        """A reminder queued for the old time (or a cancelled booking) must not go out."""
        self.session.execute(
            update(OutboxMail)
            .where(
                OutboxMail.booking_id == booking.id,
                OutboxMail.kind == REMINDER_KIND,
                OutboxMail.status == OutboxStatus.PENDING,
            )
            .values(status=OutboxStatus.DROPPED)
        )

    def booking_confirmed(self, booking: Booking) -> None:
        self._booking_mail(
            "booking-confirmed", booking, "ご予約を受け付けました", "Your booking is confirmed"
        )
        self.interpreter_notice(booking)

    def booking_rescheduled(self, booking: Booking) -> None:
        self._drop_pending_reminders(booking)
        self._booking_mail(
            "booking-rescheduled", booking, "ご予約の日時を変更しました", "Your booking was moved"
        )
        self.interpreter_notice(booking)

    def booking_cancelled(self, booking: Booking) -> None:
        self._drop_pending_reminders(booking)
        self._booking_mail(
            "booking-cancelled", booking, "ご予約を取り消しました", "Your booking was cancelled"
        )
        self.interpreter_notice(booking, cancelled=True)

    def interpreter_notice(self, booking: Booking, *, cancelled: bool = False) -> None:
        """Tell the interpreter booked with ``booking`` about it (Japanese, with an .ics)."""
        interpreter = booking.interpreter
        if interpreter is None or not interpreter.email:
            return
        service = booking.service
        title = "通訳のご依頼が取り消されました" if cancelled else "通訳のご依頼"
        body = (
            f"{interpreter.name} 様\n\n{title}。\n\n"
            f"予約番号：{booking.code}\n"
            f"日時：{japanese_when(booking, self.ctx)}\n"
            f"内容：{service.department.name_ja}　{service.name_ja}\n"
            f"通訳：{interpreter_label(booking, 'ja')}\n"
        )
        if not cancelled:
            join = self.ctx.links.interpreter_join_url(booking)
            body += f"\nビデオ通話への参加（開始15分前から）：{join}\n"
        ics = booking_calendar(
            calendar_event(booking, self.ctx.links, for_staff=True), tz=self.ctx.tz
        )
        self._queue(
            "interpreter-cancelled" if cancelled else "interpreter-booked",
            interpreter.email,
            f"【{title}】{service.name_ja}",
            body,
            ics,
        )

    def interpreter_on_demand(
        self,
        interpreter: Interpreter,
        *,
        language: str,
        service: Service,
        join_url: str | None,
        called_id: int,
    ) -> None:
        """Ask an interpreter into a call happening now (``join_url``), or tell
        them the request was withdrawn (``join_url`` is None), in their language."""
        if not interpreter.email:
            return
        if interpreter.locale == "en":
            if join_url:
                subject = f"[Interpreting now] {service.name_en}"
                body = (
                    f"{interpreter.name},\n\nA resident at the counter needs an interpreter "
                    f"({language}) now.\n\nService: {service.department.name_en} / "
                    f"{service.name_en}\n\nJoin the video call: {join_url}\n"
                )
            else:
                subject = f"[Request withdrawn] {service.name_en}"
                body = (
                    f"{interpreter.name},\n\nThe request to interpret ({language}) was "
                    "withdrawn. You do not need to join.\n"
                )
        elif join_url:
            subject = f"【至急・通訳のご依頼】{service.name_ja}"
            body = (
                f"{interpreter.name} 様\n\n"
                f"窓口で通訳（{language}）を必要とする方がいらっしゃいます。\n\n"
                f"内容：{service.department.name_ja}　{service.name_ja}\n\n"
                f"ビデオ通話への参加：{join_url}\n"
            )
        else:
            subject = f"【通訳のご依頼の取り消し】{service.name_ja}"
            body = (
                f"{interpreter.name} 様\n\n通訳（{language}）のご依頼は取り消されました。"
                "ご参加いただく必要はありません。\n"
            )
        self._queue(
            "interpreter-called" if join_url else "interpreter-released",
            interpreter.email,
            subject,
            body,
            locale=interpreter.locale,
            dedup_key=f"interpreter-call:{called_id}:{'call' if join_url else 'release'}",
        )

    def booking_reminder(self, booking: Booking, offset_min: int) -> None:
        """Once per booking, time (``sequence``) and offset: the key makes a repeat a no-op."""
        if offset_min <= 60:
            titles = ("まもなくご予約の時間です", "Your appointment starts soon")
        else:
            titles = ("ご予約日時のお知らせ", "A reminder of your appointment")
        self._booking_mail(
            REMINDER_KIND,
            booking,
            *titles,
            dedup_key=f"reminder:{booking.id}:{booking.sequence}:{offset_min}",
        )

    def waitlist_offers(self, entries: Iterable[WaitlistEntry]) -> None:
        for entry in entries:
            service = self.session.get(Service, entry.service_id)
            assert service is not None and entry.offered_start is not None
            assert entry.offer_expires_at is not None
            start = entry.offered_start.astimezone(self.ctx.tz)
            until = entry.offer_expires_at.astimezone(self.ctx.tz)
            url = self.ctx.links.waitlist_claim_url(entry)
            loc = entry.locale
            if loc == "en":
                subject = f"A time became free: {service.name_en}"
                body = (
                    f"{entry.name},\n\nA time you were waiting for became free: "
                    f"{start:%a %d %b %Y %H:%M} (Japan time).\n"
                    f"Book it before {until:%H:%M}: {url}\n"
                    "If you do nothing, it passes to the next person waiting.\n"
                )
            else:
                subject = f"【キャンセル待ち】{service.name_ja}に空きが出ました"
                body = (
                    f"{entry.name} 様\n\nキャンセル待ちの枠に空きが出ました："
                    f"{start.month}月{start.day}日({WEEKDAYS_JA[start.weekday()]}) {start:%H:%M}\n"
                    f"{until:%H:%M}までに次のリンクから予約してください：{url}\n"
                    "期限を過ぎると、次にお待ちの方へご案内します。\n"
                )
            self._queue(
                "waitlist-offer",
                entry.email,
                subject,
                body,
                locale=loc,
                phone=entry.phone,
                waitlist_entry_id=entry.id,
            )
