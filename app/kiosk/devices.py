"""Kiosk devices: one-time pairing codes, revocable device credentials, heartbeats.

An administrator issues a short pairing code for a kiosk (shown once, valid a
few minutes, single use); typed on the device at ``/kiosk/pair`` it turns
into a long random device credential kept in a cookie. Only SHA-256 digests
of codes and credentials are stored: both are random (a credential has 256
bits), so a slow password hash would add nothing but cost on every request.
Every kiosk request looks the credential up, so revoking it (or switching the
kiosk off) locks the device out on its next request or heartbeat.

Wrong codes are counted per client address in the database, so the limit holds
across several app processes. Pairing a new device revokes the kiosk's
previous credentials: one kiosk is one device.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    Result,
    func,
    select,
    update,
)
from sqlalchemy.orm import Session, selectinload

from app.kiosk.models import KioskCredential, KioskHeartbeat, KioskPairFailure, KioskPairing
from scheduler.models import Kiosk

log = logging.getLogger(__name__)

# No 0/O, 1/I/L, 2/Z, 5/S, 8/B: easy to read aloud and to type on a tablet.
PAIR_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
PAIR_LENGTH = 8
COOKIE = "madoguchi_kiosk"
# The path segment that stands for "the kiosk this device is paired with".
DEVICE = "device"


# -- pure rules --------------------------------------------------------------------------------


class Check(StrEnum):
    """A device check's result as the kiosk page reports it."""

    OK = "ok"
    MISSING = "missing"  # no such device attached
    DENIED = "denied"  # the browser refuses the site access to it
    UNKNOWN = "unknown"  # the browser cannot tell (yet)


class Network(StrEnum):
    OK = "ok"
    SLOW = "slow"
    OFFLINE = "offline"  # the browser reported offline before this beat got through


class KioskState(StrEnum):
    """What the admin status board shows for one kiosk."""

    SWITCHED_OFF = "switched-off"
    NOT_PAIRED = "not-paired"
    WAITING = "waiting"  # paired a moment ago, no heartbeat yet
    SILENT = "silent"  # paired, but no heartbeat for too long: the alert state
    FAULTY = "faulty"
    IN_CALL = "in-call"
    IDLE = "idle"

    @property
    def alert(self) -> bool:
        return self in (KioskState.SILENT, KioskState.FAULTY)

    @property
    def online(self) -> bool:
        return self in (KioskState.FAULTY, KioskState.IN_CALL, KioskState.IDLE)


@dataclass(frozen=True)
class Beat:
    at: datetime
    camera: Check
    microphone: Check
    network: Network
    in_call: bool
    rtt_ms: int | None = None

    @property
    def faults(self) -> tuple[str, ...]:
        found = []
        if self.camera in (Check.MISSING, Check.DENIED):
            found.append("camera")
        if self.microphone in (Check.MISSING, Check.DENIED):
            found.append("microphone")
        if self.network is not Network.OK:
            found.append("network")
        return tuple(found)


def kiosk_state(
    *,
    active: bool,
    paired_at: datetime | None,
    beat: Beat | None,
    now: datetime,
    silent_after: timedelta,
) -> KioskState:
    """The board's state of one kiosk; silence counts from pairing if it never beat."""
    if not active:
        return KioskState.SWITCHED_OFF
    if paired_at is None:
        return KioskState.NOT_PAIRED
    if beat is None or beat.at < paired_at:
        # Nothing heard from this device since it was paired.
        return KioskState.SILENT if now - paired_at > silent_after else KioskState.WAITING
    if now - beat.at > silent_after:
        return KioskState.SILENT
    if beat.faults:
        return KioskState.FAULTY
    return KioskState.IN_CALL if beat.in_call else KioskState.IDLE


def normalize_pair_code(typed: str) -> str | None:
    """``ACDE3467`` from what was typed (full-width, lower case, dashes); None if malformed."""
    text = unicodedata.normalize("NFKC", typed or "").upper()
    text = re.sub(r"[\s\-ー‐−_]", "", text)
    if len(text) != PAIR_LENGTH or any(c not in PAIR_ALPHABET for c in text):
        return None
    return text


def show_pair_code(code: str) -> str:
    """``ACDE-3467``: two groups of four are easier to read out and type."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


# -- errors ------------------------------------------------------------------------------------


class PairingRefused(Exception):
    """A pairing code that cannot pair a device; ``reason`` is stable."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # malformed | unknown | too-many-attempts


# -- the database side ---------------------------------------------------------------------------


def _rowcount(result: Result[Any]) -> int:
    # UPDATE statements return a CursorResult, which knows how many rows matched.
    return int(cast(CursorResult[Any], result).rowcount)


@dataclass(frozen=True)
class BoardRow:
    kiosk: Kiosk
    state: KioskState
    paired_at: datetime | None
    beat: Beat | None


class KioskDeviceService:
    """Pairing, credentials and heartbeats; routes commit once per request."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def issue_pairing(
        self, kiosk: Kiosk, now: datetime, *, valid: timedelta, admin_id: int | None
    ) -> str:
        """A fresh pairing code for ``kiosk``; earlier unused codes of it stop working."""
        self.session.execute(
            update(KioskPairing)
            .where(KioskPairing.kiosk_id == kiosk.id, KioskPairing.used_at.is_(None))
            .values(expires_at=now)
        )
        code = "".join(secrets.choice(PAIR_ALPHABET) for _ in range(PAIR_LENGTH))
        self.session.add(
            KioskPairing(
                kiosk_id=kiosk.id,
                code_hash=digest(code),
                created_at=now,
                expires_at=now + valid,
                created_by=admin_id,
            )
        )
        self.session.flush()
        log.info("kiosk %s: pairing code issued by staff %s", kiosk.id, admin_id)
        return code

    def failures(self, client: str, now: datetime, window: timedelta) -> int:
        count = self.session.scalar(
            select(func.count())
            .select_from(KioskPairFailure)
            .where(KioskPairFailure.client == client, KioskPairFailure.at > now - window)
        )
        return int(count or 0)

    def pair(
        self, typed: str, client: str, now: datetime, *, attempts: int, window: timedelta
    ) -> tuple[Kiosk, str]:
        """Redeem a pairing code: the kiosk and the device's new secret credential.

        Refused codes are recorded (the caller commits them too); once a client
        has ``attempts`` refusals inside ``window`` even a right code is refused.
        """
        if self.failures(client, now, window) >= attempts:
            log.warning("kiosk pairing: too many wrong codes from one client")
            raise PairingRefused("too-many-attempts")
        code = normalize_pair_code(typed)
        pairing = None
        if code is not None:
            pairing = self.session.scalar(
                select(KioskPairing).where(KioskPairing.code_hash == digest(code))
            )
        kiosk = self.session.get(Kiosk, pairing.kiosk_id) if pairing is not None else None
        claimed = False
        if pairing is not None and kiosk is not None and kiosk.active:
            # Single use even when two devices send the same code at once.
            claimed = (
                _rowcount(
                    self.session.execute(
                        update(KioskPairing)
                        .where(
                            KioskPairing.id == pairing.id,
                            KioskPairing.used_at.is_(None),
                            KioskPairing.expires_at > now,
                        )
                        .values(used_at=now)
                    )
                )
                == 1
            )
        if not claimed or kiosk is None:
            self.session.add(KioskPairFailure(client=client[:64], at=now))
            self.session.flush()
            raise PairingRefused("malformed" if code is None else "unknown")
        self.session.execute(
            update(KioskCredential)
            .where(KioskCredential.kiosk_id == kiosk.id, KioskCredential.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        secret = secrets.token_urlsafe(32)
        self.session.add(
            KioskCredential(kiosk_id=kiosk.id, secret_hash=digest(secret), created_at=now)
        )
        self.session.flush()
        log.info("kiosk %s: a device was paired", kiosk.id)
        return kiosk, secret

    def kiosk_for(self, secret: str | None) -> Kiosk | None:
        """The active kiosk a device credential stands for; None if unknown or revoked."""
        if not secret:
            return None
        credential = self.session.scalar(
            select(KioskCredential).where(
                KioskCredential.secret_hash == digest(secret), KioskCredential.revoked_at.is_(None)
            )
        )
        if credential is None:
            return None
        kiosk = self.session.scalar(
            select(Kiosk).where(Kiosk.id == credential.kiosk_id).options(selectinload(Kiosk.branch))
        )
        return kiosk if kiosk is not None and kiosk.active else None

    def revoke(self, kiosk: Kiosk, now: datetime) -> int:
        """Revoke every credential of ``kiosk``; the number revoked."""
        result = self.session.execute(
            update(KioskCredential)
            .where(KioskCredential.kiosk_id == kiosk.id, KioskCredential.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        log.info("kiosk %s: device credentials revoked", kiosk.id)
        return _rowcount(result)

    def record_beat(self, kiosk: Kiosk, beat: Beat) -> None:
        row = self.session.get(KioskHeartbeat, kiosk.id)
        if row is None:
            row = KioskHeartbeat(kiosk_id=kiosk.id)
            self.session.add(row)
        row.at = beat.at
        row.camera = beat.camera.value
        row.microphone = beat.microphone.value
        row.network = beat.network.value
        row.rtt_ms = beat.rtt_ms
        row.in_call = beat.in_call
        self.session.flush()

    def board(self, now: datetime, *, silent_after: timedelta) -> list[BoardRow]:
        kiosks = list(
            self.session.scalars(
                select(Kiosk)
                .options(selectinload(Kiosk.branch))
                .order_by(Kiosk.branch_id, Kiosk.id)
            )
        )
        paired: dict[int, datetime] = {
            kiosk_id: created
            for kiosk_id, created in self.session.execute(
                select(KioskCredential.kiosk_id, func.max(KioskCredential.created_at))
                .where(KioskCredential.revoked_at.is_(None))
                .group_by(KioskCredential.kiosk_id)
            )
        }
        beats = {row.kiosk_id: row for row in self.session.scalars(select(KioskHeartbeat))}
        rows = []
        for kiosk in kiosks:
            hb = beats.get(kiosk.id)
            beat = (
                Beat(
                    at=hb.at,
                    camera=Check(hb.camera),
                    microphone=Check(hb.microphone),
                    network=Network(hb.network),
                    in_call=hb.in_call,
                    rtt_ms=hb.rtt_ms,
                )
                if hb is not None
                else None
            )
            paired_at = paired.get(kiosk.id)
            state = kiosk_state(
                active=kiosk.active,
                paired_at=paired_at,
                beat=beat,
                now=now,
                silent_after=silent_after,
            )
            rows.append(BoardRow(kiosk, state, paired_at, beat))
        return rows
