"""The kiosk screens' settings: a view of the ``kiosk_*`` fields of the core
``Settings`` (environment ``MADOGUCHI_KIOSK_*``), validated there once."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.settings import Settings


@dataclass(frozen=True, slots=True)
class KioskSettings:
    idle_seconds: int
    warn_seconds: int
    return_seconds: int
    link_days: int
    phone: str
    booking_url: str
    pairing_minutes: int
    pair_attempts: int
    pair_window_minutes: int
    heartbeat_seconds: int
    silent_alert_seconds: int

    @classmethod
    def of(cls, settings: Settings) -> KioskSettings:
        return cls(
            idle_seconds=settings.kiosk_idle_seconds,
            warn_seconds=settings.kiosk_warn_seconds,
            return_seconds=settings.kiosk_return_seconds,
            link_days=settings.kiosk_link_days,
            phone=settings.kiosk_phone,
            booking_url=settings.kiosk_booking_url,
            pairing_minutes=settings.kiosk_pairing_minutes,
            pair_attempts=settings.kiosk_pair_attempts,
            pair_window_minutes=settings.kiosk_pair_window_minutes,
            heartbeat_seconds=settings.kiosk_heartbeat_seconds,
            silent_alert_seconds=settings.kiosk_silent_alert_seconds,
        )
