"""Pre-call check verdicts from plain measurements (no network)."""

from __future__ import annotations

import pytest

from media.report import CheckStatus, ItemStatus, Measurements, Thresholds, evaluate

GOOD = Measurements(
    connected=True,
    video_offered=True,
    audio_offered=True,
    video_frames=75,
    frame_rate=15.0,
    width=320,
    height=240,
    audio_frames=250,
    audio_frames_with_sound=240,
    audio_peak_level=0.2,
    round_trip_ms=12.0,
    round_trip_source="data-channel",
    packets_received=1000,
    packets_lost=0,
)


def replace(**changes: object) -> Measurements:
    from dataclasses import replace as dc_replace

    return dc_replace(GOOD, **changes)  # type: ignore[arg-type]


def test_good_measurements_pass_everything() -> None:
    report = evaluate("c1", GOOD, Thresholds(), complete=True)
    assert report.passed
    assert report.status is CheckStatus.COMPLETE
    assert [report.camera.code, report.microphone.code, report.network.code] == [
        "camera-ok",
        "microphone-ok",
        "network-ok",
    ]
    assert report.to_dict()["measurements"]["packet_loss"] == 0.0


@pytest.mark.parametrize(
    ("changes", "item", "code"),
    [
        ({"video_offered": False, "video_frames": 0}, "camera", "camera-missing"),
        ({"video_frames": 0, "frame_rate": 0.0}, "camera", "camera-no-frames"),
        ({"frame_rate": 2.0}, "camera", "camera-low-frame-rate"),
        ({"audio_offered": False, "audio_frames": 0}, "microphone", "microphone-missing"),
        ({"audio_frames": 0, "audio_frames_with_sound": 0}, "microphone", "microphone-no-audio"),
        ({"audio_frames_with_sound": 3}, "microphone", "microphone-silent"),
        ({"connected": False}, "network", "network-no-connection"),
        ({"packets_lost": 200}, "network", "network-packet-loss"),
        ({"round_trip_ms": 900.0}, "network", "network-slow"),
    ],
)
def test_each_failure_has_its_own_code_and_a_reason(
    changes: dict[str, object], item: str, code: str
) -> None:
    report = evaluate("c1", replace(**changes), Thresholds(), complete=True)
    verdict = getattr(report, item)
    assert verdict.status is ItemStatus.FAIL
    assert verdict.code == code
    assert verdict.reason
    assert not report.passed


def test_unmeasured_round_trip_still_passes_when_connected() -> None:
    report = evaluate(
        "c1", replace(round_trip_ms=None, round_trip_source=None), Thresholds(), complete=True
    )
    assert report.network.code == "network-ok-unmeasured"
    assert report.network.passed


def test_running_report_shows_only_final_failures() -> None:
    running = evaluate(
        "c1", replace(video_offered=False, video_frames=0), Thresholds(), complete=False
    )
    assert running.status is CheckStatus.RUNNING
    assert running.camera.code == "camera-missing"
    assert running.microphone.status is ItemStatus.PENDING
    assert running.network.status is ItemStatus.PENDING


def test_thresholds_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="max_packet_loss"):
        Thresholds(max_packet_loss=2.0)
