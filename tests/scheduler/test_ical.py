from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject

from scheduler.errors import CalendarParseError, SchedulerError
from scheduler.ical import CalendarEvent, booking_calendar, busy_from_ics, feed_calendar
from scheduler.types import TimeRange

TOKYO = ZoneInfo("Asia/Tokyo")
SUMMARY = "オンライン相談: 市民課; 転入届, 住所変更"
DESCRIPTION = (
    "受付番号 A-12\n参加リンク: https://example.jp/r/abc\n"
    + "開始の5分前までにカメラとマイクを確認してください。" * 4
)


def tokyo(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TOKYO)


def event(**changes: Any) -> CalendarEvent:
    fields: dict[str, Any] = {
        "uid": "b-123@madoguchi.example",
        # Given in UTC on purpose: the file must still say 10:00 Asia/Tokyo.
        "start": datetime(2026, 12, 3, 1, 0, tzinfo=UTC),
        "end": datetime(2026, 12, 3, 1, 30, tzinfo=UTC),
        "summary": SUMMARY,
        "description": DESCRIPTION,
        "url": "https://example.jp/b/abc?lang=ja&x=1",
        "location": "オンライン",
        "sequence": 0,
        "cancelled": False,
        "stamp": tokyo(12, 1, 12),
    }
    fields.update(changes)
    return CalendarEvent(**fields)


def lines(data: bytes) -> list[str]:
    """Content lines after unfolding, as a client sees them."""
    return data.decode().replace("\r\n ", "").split("\r\n")


class TestRawText:
    def test_crlf_line_ends_only(self) -> None:
        data = booking_calendar(event(), tz=TOKYO)
        assert data.startswith(b"BEGIN:VCALENDAR\r\n")
        assert data.endswith(b"END:VCALENDAR\r\n")
        assert b"\n" not in data.replace(b"\r\n", b"")

    def test_lines_are_folded_at_75_octets_on_character_boundaries(self) -> None:
        data = booking_calendar(event(description="長い説明文" * 40), tz=TOKYO)
        physical = data.split(b"\r\n")
        assert max(len(line) for line in physical) <= 75
        assert any(line.startswith(b" ") for line in physical)  # something was folded
        for line in physical:
            line.decode("utf-8")  # a split inside a multi-byte character would raise

    def test_required_properties(self) -> None:
        text = lines(booking_calendar(event(), tz=TOKYO))
        for expected in (
            "VERSION:2.0",
            "PRODID:-//madoguchi//JA",
            "METHOD:PUBLISH",
            "UID:b-123@madoguchi.example",
            "DTSTAMP:20261201T030000Z",
            "DTSTART;TZID=Asia/Tokyo:20261203T100000",
            "DTEND;TZID=Asia/Tokyo:20261203T103000",
            "SEQUENCE:0",
            "STATUS:CONFIRMED",
            "LOCATION:オンライン",
            "URL:https://example.jp/b/abc?lang=ja&x=1",
            "TRIGGER:-PT15M",
        ):
            assert expected in text
        assert text.count("BEGIN:VEVENT") == 1

    def test_vtimezone_matches_the_tzid(self) -> None:
        text = lines(booking_calendar(event(), tz=TOKYO))
        start = text.index("BEGIN:VTIMEZONE")
        assert text[start + 1] == "TZID:Asia/Tokyo"
        assert "TZOFFSETTO:+0900" in text[start : text.index("END:VTIMEZONE")]
        assert start < text.index("BEGIN:VEVENT")

    def test_text_is_escaped(self) -> None:
        text = lines(booking_calendar(event(), tz=TOKYO))
        assert "SUMMARY:オンライン相談: 市民課\\; 転入届\\, 住所変更" in text
        description = next(line for line in text if line.startswith("DESCRIPTION:受付番号"))
        assert "A-12\\n参加リンク" in description

    def test_optional_fields_can_be_left_out(self) -> None:
        text = lines(booking_calendar(event(url=None, location=None), tz=TOKYO))
        assert not [line for line in text if line.startswith(("URL", "LOCATION"))]

    def test_output_is_deterministic(self) -> None:
        assert booking_calendar(event(), tz=TOKYO) == booking_calendar(event(), tz=TOKYO)

    def test_custom_prodid(self) -> None:
        data = booking_calendar(event(), tz=TOKYO, prodid="-//Example City//madoguchi//JA")
        assert "PRODID:-//Example City//madoguchi//JA" in lines(data)


class TestCancellation:
    def test_cancellation_keeps_the_uid_and_bumps_the_sequence(self) -> None:
        confirmed = lines(booking_calendar(event(), tz=TOKYO))
        cancelled = lines(booking_calendar(event(sequence=1, cancelled=True), tz=TOKYO))
        assert "UID:b-123@madoguchi.example" in confirmed
        assert "UID:b-123@madoguchi.example" in cancelled
        assert "STATUS:CANCELLED" in cancelled
        assert "SEQUENCE:1" in cancelled
        assert "TRANSP:TRANSPARENT" in cancelled
        assert "BEGIN:VALARM" not in cancelled  # no reminder for a call that will not happen
        assert "BEGIN:VALARM" in confirmed


class TestIndependentParser:
    def test_vobject_reads_the_booking(self) -> None:
        parsed = vobject.readOne(booking_calendar(event(), tz=TOKYO).decode())
        vevent = parsed.vevent
        assert parsed.vtimezone.tzid.value == "Asia/Tokyo"
        assert vevent.uid.value == "b-123@madoguchi.example"
        assert vevent.dtstart.value == tokyo(12, 3, 10)
        assert vevent.dtstart.value.utcoffset() == timedelta(hours=9)
        assert vevent.dtend.value == tokyo(12, 3, 10, 30)
        assert vevent.dtstamp.value == datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
        assert vevent.summary.value == SUMMARY
        assert vevent.description.value == DESCRIPTION
        assert vevent.location.value == "オンライン"
        assert vevent.url.value == "https://example.jp/b/abc?lang=ja&x=1"
        assert vevent.sequence.value == "0"
        assert vevent.status.value == "CONFIRMED"
        assert vevent.valarm.trigger.value == -timedelta(minutes=15)

    def test_vobject_reads_the_cancellation(self) -> None:
        data = booking_calendar(event(sequence=3, cancelled=True), tz=TOKYO)
        vevent = vobject.readOne(data.decode()).vevent
        assert vevent.status.value == "CANCELLED"
        assert vevent.sequence.value == "3"

    def test_backslashes_survive_folding(self) -> None:
        tricky = "C:\\madoguchi\\" * 12 + "終わり"
        data = booking_calendar(event(description=tricky), tz=TOKYO)
        assert vobject.readOne(data.decode()).vevent.description.value == tricky
        parsed = icalendar.Calendar.from_ical(data)
        assert next(iter(parsed.walk("VEVENT")))["DESCRIPTION"] == tricky


class TestFeed:
    def events(self) -> list[CalendarEvent]:
        later = event(uid="b-2@madoguchi.example", start=tokyo(12, 4, 9), end=tokyo(12, 4, 10))
        return [later, event()]

    def test_feed_headers(self) -> None:
        text = lines(feed_calendar("市民課 山田", self.events(), tz=TOKYO))
        for expected in (
            "X-WR-CALNAME:市民課 山田",
            "X-WR-TIMEZONE:Asia/Tokyo",
            "REFRESH-INTERVAL;VALUE=DURATION:PT15M",
            "X-PUBLISHED-TTL:PT15M",
            "METHOD:PUBLISH",
        ):
            assert expected in text
        assert text.count("BEGIN:VTIMEZONE") == 1
        assert "BEGIN:VALARM" not in text

    def test_feed_events_are_ordered_and_readable(self) -> None:
        data = feed_calendar("市民課 山田", self.events(), tz=TOKYO)
        parsed = vobject.readOne(data.decode())
        uids = [vevent.uid.value for vevent in parsed.vevent_list]
        assert uids == ["b-123@madoguchi.example", "b-2@madoguchi.example"]
        assert parsed.vevent_list[1].dtstart.value == tokyo(12, 4, 9)

    def test_empty_feed_is_valid(self) -> None:
        parsed = vobject.readOne(feed_calendar("空", [], tz=TOKYO).decode())
        assert parsed.x_wr_calname.value == "空"
        assert not hasattr(parsed, "vevent")

    def test_duplicate_uids_are_rejected(self) -> None:
        with pytest.raises(ValueError, match="distinct"):
            feed_calendar("x", [event(), event(sequence=2)], tz=TOKYO)


class TestCalendarEventValidation:
    @pytest.mark.parametrize(
        "changes",
        [
            {"uid": ""},
            {"uid": "a\r\nb"},
            {"start": datetime(2026, 12, 3, 10)},
            {"stamp": datetime(2026, 12, 1)},
            {"end": datetime(2026, 12, 3, 1, 0, tzinfo=UTC)},
            {"sequence": -1},
        ],
    )
    def test_invalid_events_are_rejected(self, changes: dict[str, Any]) -> None:
        with pytest.raises(ValueError):
            event(**changes)


def ics(*events: str, head: str = "") -> bytes:
    body = "".join(
        "BEGIN:VEVENT\r\n" + e.strip().replace("\n", "\r\n") + "\r\nEND:VEVENT\r\n" for e in events
    )
    text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" + head + body
    return (text + "END:VCALENDAR\r\n").encode()


DECEMBER = (tokyo(12, 1, 0), datetime(2027, 1, 1, tzinfo=TOKYO))


def spans(ranges: list[TimeRange]) -> list[tuple[datetime, datetime]]:
    return [(r.start, r.end) for r in ranges]


class TestBusyFromIcs:
    def test_weekly_rule_with_an_excluded_date(self) -> None:
        data = ics("""
UID:weekly@example
DTSTAMP:20261101T000000Z
DTSTART;TZID=Asia/Tokyo:20261201T100000
DTEND;TZID=Asia/Tokyo:20261201T110000
RRULE:FREQ=WEEKLY;COUNT=4
EXDATE;TZID=Asia/Tokyo:20261208T100000
""")
        assert spans(busy_from_ics(data, *DECEMBER)) == [
            (tokyo(12, day, 10), tokyo(12, day, 11)) for day in (1, 15, 22)
        ]

    def test_moved_and_cancelled_occurrences(self) -> None:
        data = ics(
            """
UID:weekly@example
DTSTART;TZID=Asia/Tokyo:20261201T100000
DTEND;TZID=Asia/Tokyo:20261201T110000
RRULE:FREQ=WEEKLY;COUNT=3
""",
            """
UID:weekly@example
RECURRENCE-ID;TZID=Asia/Tokyo:20261208T100000
DTSTART;TZID=Asia/Tokyo:20261208T140000
DTEND;TZID=Asia/Tokyo:20261208T150000
""",
            """
UID:weekly@example
RECURRENCE-ID;TZID=Asia/Tokyo:20261215T100000
DTSTART;TZID=Asia/Tokyo:20261215T100000
DTEND;TZID=Asia/Tokyo:20261215T110000
STATUS:CANCELLED
""",
        )
        assert spans(busy_from_ics(data, *DECEMBER)) == [
            (tokyo(12, 1, 10), tokyo(12, 1, 11)),
            (tokyo(12, 8, 14), tokyo(12, 8, 15)),
        ]

    def test_endless_rule_stops_at_the_window(self) -> None:
        data = ics("""
UID:daily@example
DTSTART;TZID=Asia/Tokyo:20200101T120000
DTEND;TZID=Asia/Tokyo:20200101T130000
RRULE:FREQ=DAILY
""")
        busy = busy_from_ics(data, tokyo(12, 1, 0), tokyo(12, 4, 0))
        assert spans(busy) == [(tokyo(12, day, 12), tokyo(12, day, 13)) for day in (1, 2, 3)]

    def test_runaway_rule_is_refused(self) -> None:
        data = ics("UID:m@example\nDTSTART:20261201T000000Z\nDURATION:PT30S\nRRULE:FREQ=MINUTELY")
        with pytest.raises(CalendarParseError, match="FREQ=MINUTELY"):
            busy_from_ics(data, *DECEMBER)

    def test_too_many_occurrences_are_refused(self) -> None:
        data = ics("UID:h@example\nDTSTART:20261201T000000Z\nDURATION:PT10M\nRRULE:FREQ=HOURLY")
        with pytest.raises(CalendarParseError, match="more than 50 events"):
            busy_from_ics(data, *DECEMBER, max_occurrences=50)

    def test_occurrence_limit_counts_only_the_window(self) -> None:
        data = ics("""
UID:daily@example
DTSTART;TZID=Asia/Tokyo:20200101T120000
DTEND;TZID=Asia/Tokyo:20200101T130000
RRULE:FREQ=DAILY
""")
        # Years of earlier occurrences do not count, and 31 (+ the margin) fit under 40.
        assert len(busy_from_ics(data, *DECEMBER, max_occurrences=40)) == 31

    def test_all_day_event_is_the_whole_local_day(self) -> None:
        data = ics("""
UID:trip@example
DTSTART;VALUE=DATE:20261210
DTEND;VALUE=DATE:20261212
""")
        assert spans(busy_from_ics(data, *DECEMBER)) == [(tokyo(12, 10, 0), tokyo(12, 12, 0))]

    def test_all_day_event_uses_the_calendars_zone(self) -> None:
        data = ics("UID:d@example\nDTSTART;VALUE=DATE:20261210", head="X-WR-TIMEZONE:UTC\r\n")
        start = datetime(2026, 12, 10, tzinfo=UTC)
        assert spans(busy_from_ics(data, *DECEMBER)) == [(start, start + timedelta(days=1))]

    def test_all_day_event_defaults_to_the_given_zone(self) -> None:
        data = ics("UID:d@example\nDTSTART;VALUE=DATE:20261210")
        new_york = ZoneInfo("America/New_York")
        start = datetime(2026, 12, 10, tzinfo=new_york)
        [busy] = busy_from_ics(data, *DECEMBER, tz=new_york)
        assert (busy.start, busy.end) == (start, start + timedelta(days=1))

    def test_transparent_and_cancelled_events_are_free(self) -> None:
        data = ics(
            "UID:t@example\nDTSTART:20261201T010000Z\nDTEND:20261201T020000Z\nTRANSP:TRANSPARENT",
            "UID:c@example\nDTSTART:20261202T010000Z\nDTEND:20261202T020000Z\nSTATUS:CANCELLED",
            "UID:o@example\nDTSTART:20261203T010000Z\nDTEND:20261203T020000Z\nTRANSP:OPAQUE",
        )
        assert spans(busy_from_ics(data, *DECEMBER)) == [(tokyo(12, 3, 10), tokyo(12, 3, 11))]

    def test_overlaps_are_merged_and_results_clipped(self) -> None:
        data = ics(
            "UID:a@example\nDTSTART:20261201T010000Z\nDTEND:20261201T030000Z",
            "UID:b@example\nDTSTART:20261201T020000Z\nDTEND:20261201T040000Z",
            "UID:c@example\nDTSTART:20261201T040000Z\nDTEND:20261201T050000Z",
            "UID:d@example\nDTSTART:20261130T230000Z\nDTEND:20261201T003000Z",
        )
        first, last = tokyo(12, 1, 10, 15), tokyo(12, 1, 13, 30)
        assert spans(busy_from_ics(data, first, last)) == [(first, last)]
        assert spans(busy_from_ics(data, tokyo(12, 1, 0), tokyo(12, 2, 0))) == [
            (tokyo(12, 1, 8), tokyo(12, 1, 9, 30)),
            (tokyo(12, 1, 10), tokyo(12, 1, 14)),
        ]

    def test_floating_times_use_the_calendars_zone(self) -> None:
        data = ics(
            "UID:f@example\nDTSTART:20261201T100000\nDTEND:20261201T110000",
            head="X-WR-TIMEZONE:Asia/Tokyo\r\n",
        )
        assert spans(busy_from_ics(data, *DECEMBER, tz=ZoneInfo("UTC"))) == [
            (tokyo(12, 1, 10), tokyo(12, 1, 11))
        ]

    def test_events_without_duration_block_nothing(self) -> None:
        data = ics("UID:p@example\nDTSTART:20261201T010000Z")
        assert busy_from_ics(data, *DECEMBER) == []

    def test_results_are_in_the_given_zone(self) -> None:
        data = ics("UID:u@example\nDTSTART:20261201T010000Z\nDTEND:20261201T020000Z")
        [busy] = busy_from_ics(data, *DECEMBER)
        assert busy.start.tzinfo is TOKYO

    def test_reads_our_own_booking_file(self) -> None:
        busy = busy_from_ics(booking_calendar(event(), tz=TOKYO), *DECEMBER)
        assert spans(busy) == [(tokyo(12, 3, 10), tokyo(12, 3, 10, 30))]
        cancelled = booking_calendar(event(cancelled=True, sequence=1), tz=TOKYO)
        assert busy_from_ics(cancelled, *DECEMBER) == []

    def test_empty_calendar_is_free(self) -> None:
        assert busy_from_ics(ics(), *DECEMBER) == []

    def test_naive_bounds_are_rejected(self) -> None:
        with pytest.raises(ValueError, match="naive"):
            busy_from_ics(ics(), datetime(2026, 12, 1), DECEMBER[1])

    @pytest.mark.parametrize(
        "data",
        [
            b"",
            b"hello world",
            b"\xff\xfe\x00\x01garbage",
            b"BEGIN:VCARD\r\nFN:Someone\r\nEND:VCARD\r\n",
            b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20261201T010000Z\r\n",
            ics("UID:x@example\nDTSTART:tomorrow\nDTEND:20261201T020000Z"),
            ics(
                "UID:x@example\nDTSTART:20261201T010000Z\nDTEND:20261201T020000Z\nRRULE:FREQ=OFTEN"
            ),
            ics("UID:x@example\nSUMMARY:no start"),
            ics("UID:x@example\nDTSTART:20261201T100000", head="X-WR-TIMEZONE:Mars/Olympus\r\n"),
        ],
    )
    def test_unreadable_data_raises(self, data: bytes) -> None:
        with pytest.raises(CalendarParseError) as raised:
            busy_from_ics(data, *DECEMBER)
        assert raised.value.code == "calendar-parse-error"
        assert isinstance(raised.value, SchedulerError)


def test_events_compare_by_value() -> None:
    assert event() == dataclasses.replace(event())
