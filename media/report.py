"""The pre-call check report: what was measured, and a verdict per item.

:func:`evaluate` is a pure function of the measurements and thresholds, so
every verdict and reason can be tested with plain data. Each item carries a
stable ``code`` (for the web layer to translate into Japanese/English page
text) and a plain English ``reason`` (for logs, API users and the fallback).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class CheckStatus(StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"


class ItemStatus(StrEnum):
    PENDING = "pending"
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class CheckItem:
    status: ItemStatus
    code: str
    reason: str

    @property
    def passed(self) -> bool:
        return self.status is ItemStatus.PASS


@dataclass(frozen=True, slots=True)
class Measurements:
    """What the echo peer saw of the caller's media and connection."""

    connected: bool = False
    video_offered: bool = False
    audio_offered: bool = False
    video_frames: int = 0
    frame_rate: float = 0.0
    width: int | None = None
    height: int | None = None
    audio_frames: int = 0
    audio_frames_with_sound: int = 0
    audio_peak_level: float = 0.0
    round_trip_ms: float | None = None
    # "data-channel" (ping/pong) or "rtcp" (receiver reports); None if unmeasured.
    round_trip_source: str | None = None
    packets_received: int = 0
    packets_lost: int = 0

    @property
    def packet_loss(self) -> float | None:
        total = self.packets_received + self.packets_lost
        if total == 0:
            return None
        return self.packets_lost / total


@dataclass(frozen=True, slots=True)
class Thresholds:
    # A camera below this is too choppy for a counter conversation (reading a
    # document held up to the camera needs a steady picture).
    min_frame_rate: float = 5.0
    # 20 ms frames: 10 frames = 0.2 s of actual sound during the check.
    min_audio_frames_with_sound: int = 10
    # Beyond ~400 ms round trip people start talking over each other (ITU-T G.114).
    max_round_trip_ms: float = 400.0
    max_packet_loss: float = 0.05

    def __post_init__(self) -> None:
        if self.min_frame_rate < 0 or self.min_audio_frames_with_sound < 0:
            raise ValueError("thresholds must not be negative")
        if self.max_round_trip_ms <= 0 or not 0 <= self.max_packet_loss <= 1:
            raise ValueError("max_round_trip_ms must be positive and max_packet_loss in [0, 1]")


@dataclass(frozen=True, slots=True)
class CheckReport:
    check_id: str
    status: CheckStatus
    camera: CheckItem
    microphone: CheckItem
    network: CheckItem
    measurements: Measurements

    @property
    def passed(self) -> bool:
        return self.camera.passed and self.microphone.passed and self.network.passed

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; the shape the HTTP endpoint and the data channel send."""
        measurements = asdict(self.measurements)
        measurements["packet_loss"] = self.measurements.packet_loss
        return {
            "check_id": self.check_id,
            "status": self.status.value,
            "passed": self.passed,
            "camera": _item_dict(self.camera),
            "microphone": _item_dict(self.microphone),
            "network": _item_dict(self.network),
            "measurements": measurements,
        }


def _item_dict(item: CheckItem) -> dict[str, str]:
    return {"status": item.status.value, "code": item.code, "reason": item.reason}


_PENDING = CheckItem(ItemStatus.PENDING, "measuring", "The check is still measuring.")


def evaluate(
    check_id: str,
    m: Measurements,
    thresholds: Thresholds,
    *,
    complete: bool,
) -> CheckReport:
    """The verdicts for ``m``; while not ``complete`` only failures already certain show."""
    camera = _camera(m, thresholds)
    microphone = _microphone(m, thresholds)
    network = _network(m, thresholds)
    if not complete:
        # Only "nothing offered" is final before the measuring window ends.
        camera = camera if camera.code == "camera-missing" else _PENDING
        microphone = microphone if microphone.code == "microphone-missing" else _PENDING
        network = _PENDING
    return CheckReport(
        check_id=check_id,
        status=CheckStatus.COMPLETE if complete else CheckStatus.RUNNING,
        camera=camera,
        microphone=microphone,
        network=network,
        measurements=m,
    )


def _camera(m: Measurements, t: Thresholds) -> CheckItem:
    if not m.video_offered:
        return CheckItem(
            ItemStatus.FAIL,
            "camera-missing",
            "No video was sent: the camera is off, in use by another app, "
            "or not allowed in the browser.",
        )
    if m.video_frames == 0:
        return CheckItem(
            ItemStatus.FAIL,
            "camera-no-frames",
            "The camera was found but no picture arrived.",
        )
    if m.frame_rate < t.min_frame_rate:
        return CheckItem(
            ItemStatus.FAIL,
            "camera-low-frame-rate",
            f"The picture arrives at only {m.frame_rate:.1f} frames per second "
            f"(at least {t.min_frame_rate:g} needed).",
        )
    return CheckItem(
        ItemStatus.PASS,
        "camera-ok",
        f"The camera works: {m.frame_rate:.1f} frames per second received.",
    )


def _microphone(m: Measurements, t: Thresholds) -> CheckItem:
    if not m.audio_offered:
        return CheckItem(
            ItemStatus.FAIL,
            "microphone-missing",
            "No sound was sent: the microphone is off, in use by another app, "
            "or not allowed in the browser.",
        )
    if m.audio_frames == 0:
        return CheckItem(
            ItemStatus.FAIL,
            "microphone-no-audio",
            "The microphone was found but no sound arrived.",
        )
    if m.audio_frames_with_sound < t.min_audio_frames_with_sound:
        return CheckItem(
            ItemStatus.FAIL,
            "microphone-silent",
            "Only silence arrived: the microphone may be muted or turned down. "
            "Please say a few words during the check.",
        )
    return CheckItem(ItemStatus.PASS, "microphone-ok", "The microphone works: sound arrived.")


def _network(m: Measurements, t: Thresholds) -> CheckItem:
    if not m.connected:
        return CheckItem(
            ItemStatus.FAIL,
            "network-no-connection",
            "No media connection could be made: a firewall or the network may block video calls.",
        )
    loss = m.packet_loss
    if loss is not None and loss > t.max_packet_loss:
        return CheckItem(
            ItemStatus.FAIL,
            "network-packet-loss",
            f"{loss:.0%} of the data was lost on the way (at most "
            f"{t.max_packet_loss:.0%} is fine): the connection is unstable.",
        )
    if m.round_trip_ms is not None and m.round_trip_ms > t.max_round_trip_ms:
        return CheckItem(
            ItemStatus.FAIL,
            "network-slow",
            f"The connection is slow: {m.round_trip_ms:.0f} ms round trip "
            f"(at most {t.max_round_trip_ms:.0f} ms is fine).",
        )
    if m.round_trip_ms is None:
        return CheckItem(
            ItemStatus.PASS,
            "network-ok-unmeasured",
            "Connected; the delay could not be measured.",
        )
    return CheckItem(
        ItemStatus.PASS,
        "network-ok",
        f"The connection works: {m.round_trip_ms:.0f} ms round trip.",
    )
