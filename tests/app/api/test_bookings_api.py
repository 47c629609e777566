"""The booking API end to end over a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import vobject
from fastapi.testclient import TestClient
from tests_app_helpers import book, slot_starts  # type: ignore[import-not-found]

from app.core.clock import FixedClock

DAY = "2026-12-01"  # Tuesday
TEN = "2026-12-01T10:00:00+09:00"


def test_departments_list_services(client: TestClient, city) -> None:
    body = client.get("/api/v1/departments").json()
    assert [d["slug"] for d in body] == ["shimin"]
    services = {s["slug"]: s for s in body[0]["services"]}
    assert services["tennyu"]["name"] == "転入の相談"
    assert services["tennyu"]["channels"] == ["online", "kiosk"]
    en = client.get("/api/v1/departments", headers={"Accept-Language": "en-US,en;q=0.8"}).json()
    assert en[0]["name"] == "Residents Division"


def test_availability_uses_tokyo_offsets_and_office_hours(client: TestClient, city) -> None:
    r = client.get(
        f"/api/v1/services/{city.consult_id}/availability",
        params={"from": DAY, "to": DAY, "channel": "online"},
    )
    assert r.status_code == 200
    slots = r.json()["slots"]
    starts = [s["start"] for s in slots]
    assert starts[0] == "2026-12-01T08:30:00+09:00"
    assert all(s.endswith("+09:00") for s in starts)
    # 30 min + 10 min buffer must end by 12:00 and by 17:15.
    assert "2026-12-01T11:00:00+09:00" in starts
    assert "2026-12-01T11:30:00+09:00" not in starts
    assert "2026-12-01T16:30:00+09:00" in starts
    assert all(s["available_staff"] == 3 for s in slots)


def test_availability_rejects_bad_dates_in_the_callers_language(client: TestClient, city) -> None:
    r = client.get(
        f"/api/v1/services/{city.consult_id}/availability", params={"from": "2026-13-01", "to": DAY}
    )
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "invalid-input"
    assert err["fields"][0]["field"] == "from"
    assert "開始日" in err["fields"][0]["message"]
    r = client.get(
        f"/api/v1/services/{city.consult_id}/availability",
        params={"from": "2026-12-05", "to": DAY, "lang": "en"},
    )
    assert r.status_code == 422
    assert r.json()["error"]["fields"][0]["message"] == "'to' is before 'from'"


def test_booking_allocates_until_staff_run_out_then_409(client: TestClient, city) -> None:
    staff_seen = set()
    codes = set()
    for _ in range(3):
        r = book(client, city.consult_id, TEN)
        assert r.status_code == 201, r.text
        out = r.json()
        assert out["code"].startswith("MDG-") and len(out["code"]) == 10
        assert out["start"] == TEN and out["end"] == "2026-12-01T10:30:00+09:00"
        assert out["department"] == "市民課"
        for key in ("manage_url", "ics_url", "join_url"):
            assert out[key].startswith("http://127.0.0.1:8000/")
        codes.add(out["code"])
        staff_seen.add(out["code"])
    assert len(codes) == 3
    r = book(client, city.consult_id, TEN)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "slot-unavailable"
    assert "別の時間" in r.json()["error"]["message"]
    r = book(client, city.consult_id, TEN, headers={"Accept-Language": "en"})
    assert "another time" in r.json()["error"]["message"]
    assert TEN not in slot_starts(client, city.consult_id, DAY)


def test_buffer_blocks_the_following_slot_for_that_staff_member(client: TestClient, city) -> None:
    # Three bookings at 10:00 occupy every qualified person until 10:40.
    for _ in range(3):
        assert book(client, city.consult_id, TEN).status_code == 201
    starts = slot_starts(client, city.consult_id, DAY)
    assert "2026-12-01T10:30:00+09:00" not in starts
    assert "2026-12-01T11:00:00+09:00" in starts


def test_bad_input_names_the_field(client: TestClient, city) -> None:
    r = client.post(
        "/api/v1/bookings",
        json={"service_id": city.consult_id, "start": TEN, "email": "not-an-email"},
    )
    assert r.status_code == 422
    fields = {f["field"]: f["message"] for f in r.json()["error"]["fields"]}
    assert fields["name"] == "お名前は必須です。"
    assert "メールアドレス" in fields["email"]
    r = client.post(
        "/api/v1/bookings?lang=en",
        json={
            "service_id": city.consult_id,
            "start": "2026-12-01T10:00:00",
            "name": "A",
            "email": "a@example.jp",
        },
    )
    assert r.status_code == 422
    assert "UTC offset" in r.json()["error"]["fields"][0]["message"]
    r = client.post(
        "/api/v1/bookings",
        json={"service_id": 999, "start": TEN, "name": "A", "email": "a@example.jp"},
    )
    assert r.status_code == 422
    assert r.json()["error"]["fields"][0]["field"] == "service_id"
    r = client.post(
        "/api/v1/bookings", json={"service_id": city.consult_id, "start": TEN, "name": "A"}
    )
    assert r.status_code == 422
    assert (
        r.json()["error"]["fields"][0]["message"]
        == "メールアドレスまたは電話番号のどちらかが必要です"
    )


def test_past_and_short_notice_slots_are_refused(
    client: TestClient, city, clock: FixedClock
) -> None:
    # now is 09:00 JST on Nov 30; two hours' notice means 11:00 is the first.
    assert book(client, city.consult_id, "2026-11-30T10:30:00+09:00").status_code == 409
    assert book(client, city.consult_id, "2026-11-30T11:00:00+09:00").status_code == 201
    assert book(client, city.consult_id, "2026-11-29T10:00:00+09:00").status_code == 409


def manage_token(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_manage_link_view_cancel_and_ics(client: TestClient, city) -> None:
    out = book(client, city.consult_id, TEN).json()
    token = manage_token(out["manage_url"])
    assert client.get(f"/api/v1/bookings/{token}").json()["code"] == out["code"]
    ics = client.get(f"/api/v1/bookings/{token}/booking.ics")
    assert ics.headers["content-type"].startswith("text/calendar")
    event = vobject.readOne(ics.text).vevent
    assert event.status.value == "CONFIRMED"
    uid = event.uid.value
    r = client.post(f"/api/v1/bookings/{token}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    cancelled = vobject.readOne(client.get(f"/api/v1/bookings/{token}/booking.ics").text).vevent
    assert cancelled.status.value == "CANCELLED"
    assert cancelled.uid.value == uid
    assert int(cancelled.sequence.value) == 1
    again = client.post(f"/api/v1/bookings/{token}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "booking-cancelled"
    # The freed staff member is bookable again.
    assert book(client, city.consult_id, TEN).status_code == 201


def test_tampered_and_expired_links(client: TestClient, city, clock: FixedClock) -> None:
    token = manage_token(book(client, city.consult_id, TEN).json()["manage_url"])
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    r = client.get(f"/api/v1/bookings/{tampered}")
    assert r.status_code == 403 and r.json()["error"]["code"] == "token-invalid"
    assert client.get("/api/v1/bookings/garbage").status_code == 403
    clock.moment += timedelta(days=40)
    r = client.get(f"/api/v1/bookings/{token}")
    assert r.status_code == 410 and r.json()["error"]["code"] == "token-expired"
    assert "有効期限" in r.json()["error"]["message"]


def test_reschedule_keeps_code_bumps_sequence_and_respects_cutoff(
    client: TestClient, city, clock: FixedClock
) -> None:
    out = book(client, city.consult_id, TEN).json()
    token = manage_token(out["manage_url"])
    r = client.post(
        f"/api/v1/bookings/{token}/reschedule", json={"start": "2026-12-01T14:00:00+09:00"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["code"] == out["code"]
    assert r.json()["start"] == "2026-12-01T14:00:00+09:00"
    event = vobject.readOne(client.get(f"/api/v1/bookings/{token}/booking.ics").text).vevent
    assert int(event.sequence.value) == 1
    # Within two hours of the start, changes are closed.
    clock.moment = clock.moment.replace(day=1, month=12, hour=3, minute=30)  # 12:30 JST
    r = client.post(f"/api/v1/bookings/{token}/cancel")
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "change-window-closed"
    assert "2026-12-01 12:00" in err["message"]


def test_daily_cap_closes_the_day(client: TestClient, city) -> None:
    assert book(client, city.capped_id, "2026-12-01T09:00:00+09:00").status_code == 201
    assert book(client, city.capped_id, "2026-12-01T10:00:00+09:00").status_code == 201
    assert slot_starts(client, city.capped_id, DAY) == []
    assert book(client, city.capped_id, "2026-12-01T11:00:00+09:00").status_code == 409
    assert slot_starts(client, city.capped_id, "2026-12-02") != []


def test_kiosk_booking_needs_a_kiosk_and_blocks_it(client: TestClient, city) -> None:
    r = book(client, city.consult_id, TEN, channel="kiosk")
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "kiosk_id"
    assert (
        book(client, city.consult_id, TEN, channel="kiosk", kiosk_id=city.kiosk_id).status_code
        == 201
    )
    # Staff are still free, but the kiosk is not.
    assert (
        book(client, city.consult_id, TEN, channel="kiosk", kiosk_id=city.kiosk_id).status_code
        == 409
    )
    assert book(client, city.consult_id, TEN).status_code == 201
    r = client.get(
        f"/api/v1/services/{city.capped_id}/availability",
        params={"from": DAY, "to": DAY, "channel": "kiosk"},
    )
    assert r.json()["slots"] == []
