"""Kiosk devices: pairing codes, device credentials, revocation, heartbeats, the status board."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.settings import Settings
from app.kiosk.devices import (
    COOKIE,
    PAIR_ALPHABET,
    Beat,
    Check,
    KioskDeviceService,
    KioskState,
    Network,
    PairingRefused,
    kiosk_state,
    normalize_pair_code,
)
from app.kiosk.models import KioskCredential
from scheduler.models import Branch, Kiosk

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CODE = re.compile(r'data-pairing-code="([A-Z0-9-]+)"')
NOW = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
SILENT = timedelta(minutes=2)
OK_BEAT = {"camera": "ok", "microphone": "ok", "network": "ok", "in_call": False, "rtt_ms": 40}


def beat(at: datetime, **changes: Any) -> Beat:
    values: dict[str, Any] = {
        "camera": Check.OK,
        "microphone": Check.OK,
        "network": Network.OK,
        "in_call": False,
    }
    values.update(changes)
    return Beat(at=at, **values)


# -- pure rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("active", "paired", "last", "changes", "expected"),
    [
        (False, True, 10, {}, KioskState.SWITCHED_OFF),
        (True, False, None, {}, KioskState.NOT_PAIRED),
        (True, True, None, {}, KioskState.SILENT),
        (True, True, 10, {}, KioskState.IDLE),
        (True, True, 10, {"in_call": True}, KioskState.IN_CALL),
        (True, True, 10, {"camera": Check.DENIED}, KioskState.FAULTY),
        (True, True, 10, {"microphone": Check.MISSING}, KioskState.FAULTY),
        (True, True, 10, {"network": Network.SLOW}, KioskState.FAULTY),
        (True, True, 10, {"camera": Check.UNKNOWN}, KioskState.IDLE),
        (True, True, 121, {}, KioskState.SILENT),
        (True, True, 120, {}, KioskState.IDLE),
    ],
)
def test_kiosk_state(
    active: bool, paired: bool, last: int | None, changes: dict[str, Any], expected: KioskState
) -> None:
    paired_at = NOW - timedelta(hours=1) if paired else None
    last_beat = beat(NOW - timedelta(seconds=last), **changes) if last is not None else None
    state = kiosk_state(
        active=active, paired_at=paired_at, beat=last_beat, now=NOW, silent_after=SILENT
    )
    assert state is expected
    assert state.alert == (expected in (KioskState.SILENT, KioskState.FAULTY))


def test_a_paired_device_that_never_reports_turns_silent() -> None:
    paired_at = NOW - timedelta(minutes=1)
    # A beat of the device paired before does not count for the new one.
    old = beat(NOW - timedelta(minutes=5))
    args: dict[str, Any] = {"active": True, "paired_at": paired_at, "beat": old}
    assert kiosk_state(**args, now=NOW, silent_after=SILENT) is KioskState.WAITING
    later = NOW + timedelta(minutes=2)
    assert kiosk_state(**args, now=later, silent_after=SILENT) is KioskState.SILENT


def test_pairing_codes_are_normalised() -> None:
    assert normalize_pair_code("acde-3467") == "ACDE3467"
    assert normalize_pair_code(" ＡＣＤＥ　３４６７ ") == "ACDE3467"
    assert normalize_pair_code("ACDE346") is None
    assert normalize_pair_code("ACDE3460") is None  # 0 is not in the alphabet
    assert not set("01258BILOSZ") & set(PAIR_ALPHABET)


def test_settings_need_the_alert_above_the_heartbeat() -> None:
    with pytest.raises(ValueError, match="SILENT_ALERT_SECONDS"):
        Settings(kiosk_heartbeat_seconds=60, kiosk_silent_alert_seconds=60)


# -- the database side --------------------------------------------------------------------------


@pytest.fixture
def kiosk(db: Session) -> Kiosk:
    branch = Branch(slug="minami", name_ja="南支所", name_en="South Branch")
    kiosk = Kiosk(slug="minami-1", name="南支所1号機", branch=branch)
    db.add_all([branch, kiosk])
    db.flush()
    return kiosk


def pair(
    svc: KioskDeviceService, code: str, *, at: datetime = NOW, client: str = "10.0.0.1"
) -> Any:
    return svc.pair(code, client, at, attempts=3, window=timedelta(minutes=15))


def test_a_code_pairs_once_and_the_credential_opens_the_kiosk(db: Session, kiosk: Kiosk) -> None:
    svc = KioskDeviceService(db)
    code = svc.issue_pairing(kiosk, NOW, valid=timedelta(minutes=10), admin_id=None)
    assert len(code) == 8 and set(code) <= set(PAIR_ALPHABET)
    paired, secret = pair(svc, code.lower(), at=NOW + timedelta(minutes=9))
    assert paired.id == kiosk.id
    assert svc.kiosk_for(secret) is not None and svc.kiosk_for(secret).id == kiosk.id  # type: ignore[union-attr]
    # Stored as a digest only.
    stored = db.scalars(select(KioskCredential.secret_hash)).all()
    assert secret not in stored and len(stored) == 1
    with pytest.raises(PairingRefused, match="unknown"):
        pair(svc, code, client="10.0.0.2")
    assert svc.kiosk_for("made-up") is None and svc.kiosk_for(None) is None


def test_an_expired_or_replaced_code_is_refused(db: Session, kiosk: Kiosk) -> None:
    svc = KioskDeviceService(db)
    first = svc.issue_pairing(kiosk, NOW, valid=timedelta(minutes=10), admin_id=None)
    with pytest.raises(PairingRefused, match="unknown"):
        pair(svc, first, at=NOW + timedelta(minutes=10))
    second = svc.issue_pairing(kiosk, NOW, valid=timedelta(minutes=10), admin_id=None)
    third = svc.issue_pairing(kiosk, NOW, valid=timedelta(minutes=10), admin_id=None)
    with pytest.raises(PairingRefused):
        pair(svc, second, client="10.0.0.9")
    pair(svc, third, client="10.0.0.9")


def test_wrong_codes_are_limited_per_client(db: Session, kiosk: Kiosk) -> None:
    svc = KioskDeviceService(db)
    code = svc.issue_pairing(kiosk, NOW, valid=timedelta(minutes=30), admin_id=None)
    for typed in ("ACDE-3467", "nonsense", "AAAA-AAAA"):
        with pytest.raises(PairingRefused) as refused:
            pair(svc, typed)
        assert refused.value.reason in ("unknown", "malformed")
    # Even the right code is refused to this client now...
    with pytest.raises(PairingRefused, match="too-many-attempts"):
        pair(svc, code)
    # ...until the window has passed; another client is not affected.
    pair(svc, code, at=NOW + timedelta(minutes=16))


def test_revoking_and_re_pairing_lock_out_the_old_device(db: Session, kiosk: Kiosk) -> None:
    svc = KioskDeviceService(db)
    _, old = pair(svc, svc.issue_pairing(kiosk, NOW, valid=timedelta(minutes=5), admin_id=None))
    _, new = pair(svc, svc.issue_pairing(kiosk, NOW, valid=timedelta(minutes=5), admin_id=None))
    assert svc.kiosk_for(old) is None
    assert svc.kiosk_for(new) is not None
    assert svc.revoke(kiosk, NOW) == 1
    assert svc.kiosk_for(new) is None
    # Switching the kiosk off locks out a valid credential too.
    _, third = pair(svc, svc.issue_pairing(kiosk, NOW, valid=timedelta(minutes=5), admin_id=None))
    kiosk.active = False
    db.flush()
    assert svc.kiosk_for(third) is None


def test_the_board_reports_each_kiosk(db: Session, kiosk: Kiosk) -> None:
    svc = KioskDeviceService(db)
    pair(svc, svc.issue_pairing(kiosk, NOW, valid=timedelta(minutes=5), admin_id=None))
    state = {r.kiosk.id: r.state for r in svc.board(NOW, silent_after=SILENT)}
    assert state[kiosk.id] is KioskState.WAITING
    svc.record_beat(kiosk, beat(NOW + timedelta(seconds=30), camera=Check.DENIED))
    rows = {r.kiosk.id: r for r in svc.board(NOW + timedelta(seconds=40), silent_after=SILENT)}
    assert rows[kiosk.id].state is KioskState.FAULTY
    assert rows[kiosk.id].beat is not None and rows[kiosk.id].beat.faults == ("camera",)  # type: ignore[union-attr]
    svc.record_beat(kiosk, beat(NOW + timedelta(seconds=60), in_call=True))
    later = {
        r.kiosk.id: r.state for r in svc.board(NOW + timedelta(seconds=61), silent_after=SILENT)
    }
    assert later[kiosk.id] is KioskState.IN_CALL
    silent = {
        r.kiosk.id: r.state for r in svc.board(NOW + timedelta(minutes=4), silent_after=SILENT)
    }
    assert silent[kiosk.id] is KioskState.SILENT
    assert db.scalar(select(func.count()).select_from(KioskCredential)) == 1


# -- the pages ----------------------------------------------------------------------------------


def login(client: TestClient, who: str) -> None:
    token = CSRF.search(client.get("/staff/login").text)
    assert token
    r = client.post(
        "/staff/login",
        data={"login": who, "password": "pw", "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303


def issue_code(client: TestClient, kiosk_id: int) -> str:
    board = client.get("/admin/kiosk-status?lang=ja")
    assert board.status_code == 200
    token = CSRF.search(board.text)
    assert token
    r = client.post(f"/admin/kiosks/{kiosk_id}/pairing", data={"csrf_token": token.group(1)})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    match = CODE.search(r.text)
    assert match
    return match.group(1)


def pair_device(device: TestClient, code: str) -> Any:
    form = device.get("/kiosk/pair?lang=ja")
    assert form.status_code == 200 and "登録コード" in form.text
    token = CSRF.search(form.text)
    assert token
    return device.post(
        "/kiosk/pair", data={"code": code, "csrf_token": token.group(1)}, follow_redirects=False
    )


def board_state(client: TestClient, kiosk_id: int) -> str:
    rows = client.get("/admin/kiosk-status/rows?lang=ja")
    assert rows.status_code == 200
    match = re.search(rf'data-kiosk="{kiosk_id}" data-state="([a-z-]+)"', rows.text)
    assert match
    return match.group(1)


def test_pairing_heartbeat_board_and_revocation(
    client: TestClient, ctx: AppContext, city: Any, clock: FixedClock
) -> None:
    assert client.get("/admin/kiosk-status", follow_redirects=False).status_code == 303
    login(client, "staff1")
    assert client.get("/admin/kiosk-status").status_code == 403
    client.cookies.clear()
    login(client, "admin")
    assert "/admin/kiosk-status" in client.get("/admin").text
    assert board_state(client, city.kiosk_id) == "not-paired"
    code = issue_code(client, city.kiosk_id)

    with TestClient(client.app) as device:
        # Never paired: the device screen is locked and points to pairing.
        locked = device.get("/kiosk/device?lang=ja")
        assert locked.status_code == 403 and 'data-error="kiosk-device-locked"' in locked.text
        assert 'href="/kiosk/pair"' in locked.text
        wrong = pair_device(device, "ACDE-3467")
        assert wrong.status_code == 422 and 'data-problem="unknown"' in wrong.text
        r = pair_device(device, code)
        assert r.status_code == 303 and r.headers["location"] == "/kiosk/device?lang=ja"
        assert COOKIE in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
        assert "samesite=strict" in r.headers["set-cookie"].lower()
        start = device.get("/kiosk/device?lang=ja")
        assert start.status_code == 200 and "北支所" in start.text
        assert 'data-heartbeat="/kiosk/device/heartbeat"' in start.text
        assert "/static/js/pages/kiosk-heartbeat.js" in start.text
        assert device.get("/kiosk/device/menu?lang=ja").status_code == 200
        assert board_state(client, city.kiosk_id) == "waiting"

        hb = device.post("/kiosk/device/heartbeat", json=OK_BEAT)
        assert hb.status_code == 200 and hb.json()["ok"] is True
        assert board_state(client, city.kiosk_id) == "idle"
        bad = device.post("/kiosk/device/heartbeat", json={**OK_BEAT, "camera": "broken"})
        assert bad.status_code == 422
        faulty = {**OK_BEAT, "microphone": "missing"}
        assert device.post("/kiosk/device/heartbeat", json=faulty).status_code == 200
        assert board_state(client, city.kiosk_id) == "faulty"
        assert device.post("/kiosk/device/heartbeat", json={**OK_BEAT, "in_call": True}).is_success
        assert board_state(client, city.kiosk_id) == "in-call"

        # Silence longer than the alert time: the board shows the alert.
        clock.moment = clock.moment + timedelta(seconds=121)
        page = client.get("/admin/kiosk-status?lang=ja")
        assert 'data-state="silent"' in page.text and 'class="alert"' in page.text
        assert 'data-alerts="1"' in page.text and "応答なし" in page.text
        assert 'data-src="/admin/kiosk-status/rows"' in page.text

        # The code was single use.
        with TestClient(client.app) as other:
            again = pair_device(other, code)
            assert again.status_code == 422

        # Revoking locks the device out at once: pages and heartbeat.
        token = CSRF.search(page.text)
        assert token
        r = client.post(
            f"/admin/kiosks/{city.kiosk_id}/revoke",
            data={"csrf_token": token.group(1)},
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert device.post("/kiosk/device/heartbeat", json=OK_BEAT).status_code == 401
        locked = device.get("/kiosk/device?lang=ja")
        assert locked.status_code == 403 and "登録が取り消されました" in locked.text
        assert board_state(client, city.kiosk_id) == "not-paired"
    with Session(ctx.engine) as session:
        assert session.scalar(select(func.count()).select_from(KioskCredential)) == 1


def test_pair_attempts_are_rate_limited_on_the_page(client: TestClient, city: Any) -> None:
    with TestClient(client.app) as device:
        statuses = [pair_device(device, "ACDE-3467").status_code for _ in range(6)]
    assert statuses == [422] * 5 + [429]


def test_admin_pairing_needs_csrf_and_a_kiosk(client: TestClient, city: Any) -> None:
    login(client, "admin")
    r = client.post(f"/admin/kiosks/{city.kiosk_id}/pairing", data={"csrf_token": "x"})
    assert r.status_code == 403
    board = client.get("/admin/kiosk-status")
    token = CSRF.search(board.text)
    assert token
    r = client.post("/admin/kiosks/9999/pairing", data={"csrf_token": token.group(1)})
    assert r.status_code == 404
