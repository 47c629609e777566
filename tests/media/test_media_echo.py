"""The pre-call check over real WebRTC, inside a private loopback namespace."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from aiortc import RTCSessionDescription
from fastapi import FastAPI

from media.echo import EchoService
from media.errors import InvalidOffer, TooManyChecks, UnknownCheck
from media.http import precheck_router
from media.loopback import NetworkNamespace
from media.precheck_client import PrecheckPeer, run_precheck
from media.report import CheckStatus
from media.synthetic import SineToneAudioTrack, TestPatternVideoTrack

pytestmark = pytest.mark.media

TIMEOUT = 20.0


def fast_service(**kwargs: Any) -> EchoService:
    # A short measuring window keeps the suite quick; verdicts do not depend on it.
    kwargs.setdefault("measure_seconds", 2.0)
    kwargs.setdefault("ice_servers", ())
    return EchoService(**kwargs)


async def run_check(
    service: EchoService, *, video: bool = True, audio: bool = True, amplitude: float = 0.3
) -> tuple[str, dict[str, Any], PrecheckPeer]:
    peer = PrecheckPeer(
        video=TestPatternVideoTrack() if video else None,
        audio=SineToneAudioTrack(amplitude=amplitude) if audio else None,
    )
    check_id, answer = await service.create(await peer.offer())
    await peer.accept(answer)
    pushed = await asyncio.wait_for(peer.wait_report(), TIMEOUT)
    return check_id, pushed, peer


def test_echo_check_passes_and_echoes_own_frames(netns: NetworkNamespace) -> None:
    async def scenario() -> None:
        service = fast_service()
        check_id, pushed, peer = await run_check(service)
        try:
            report = service.report(check_id)
            assert report.status is CheckStatus.COMPLETE
            assert report.passed, report.to_dict()
            assert pushed == report.to_dict()
            m = report.measurements
            assert m.connected
            assert m.video_frames > 0
            assert m.audio_frames_with_sound > 0
            assert m.round_trip_ms is not None
            assert m.round_trip_source == "data-channel"
            assert m.packet_loss is not None
            # The caller sees its own test pattern come back, frame numbers increasing.
            video = peer.echoed["video"]
            stats = await asyncio.wait_for(
                video.wait_for(lambda s: s.last_frame_number is not None and s.frames >= 10),
                TIMEOUT,
            )
            assert stats.frame_numbers_increasing
            audio = await asyncio.wait_for(
                peer.echoed["audio"].wait_for(lambda s: s.frames_with_sound >= 5), TIMEOUT
            )
            assert audio.peak_level > 0.05
        finally:
            await peer.close()
            await service.close()
        assert service.active_sessions == 0
        # The report outlives the session.
        assert service.report(check_id).passed

    netns.run(scenario)


def test_echo_check_without_camera_fails_camera_only(netns: NetworkNamespace) -> None:
    async def scenario() -> None:
        service = fast_service()
        check_id, pushed, peer = await run_check(service, video=False)
        try:
            assert pushed["camera"] == {
                "status": "fail",
                "code": "camera-missing",
                "reason": service.report(check_id).camera.reason,
            }
            assert "camera" in pushed["camera"]["reason"]
            assert pushed["microphone"]["status"] == "pass"
            assert pushed["network"]["status"] == "pass"
            assert pushed["passed"] is False
        finally:
            await peer.close()
            await service.close()

    netns.run(scenario)


def test_echo_check_with_muted_microphone_fails_microphone(netns: NetworkNamespace) -> None:
    async def scenario() -> None:
        service = fast_service()
        _, pushed, peer = await run_check(service, amplitude=0.0)
        try:
            assert pushed["microphone"]["code"] == "microphone-silent"
            assert pushed["camera"]["status"] == "pass"
        finally:
            await peer.close()
            await service.close()

    netns.run(scenario)


def test_echo_service_limits_concurrent_sessions_and_frees_seats(
    netns: NetworkNamespace,
) -> None:
    async def scenario() -> None:
        service = fast_service(max_sessions=1)
        first = PrecheckPeer(video=TestPatternVideoTrack(), audio=None)
        second = PrecheckPeer(video=TestPatternVideoTrack(), audio=None)
        try:
            check_id, _ = await service.create(await first.offer())
            second_offer = await second.offer()
            with pytest.raises(TooManyChecks):
                await service.create(second_offer)
            await service.close_session(check_id)
            assert service.active_sessions == 0
            other_id, _ = await service.create(second_offer)
            assert other_id != check_id
        finally:
            await first.close()
            await second.close()
            await service.close()
        with pytest.raises(UnknownCheck):
            service.report("no-such-check")

    netns.run(scenario)


def test_echo_session_closes_when_caller_goes_silent(netns: NetworkNamespace) -> None:
    async def scenario() -> None:
        service = fast_service(idle_timeout=1.0, measure_seconds=0.5)
        check_id, _, peer = await run_check(service, video=True, audio=False)
        # The caller vanishes without a word (tab closed, Wi-Fi gone).
        await peer.close()

        await asyncio.wait_for(service.wait_closed(check_id), TIMEOUT)
        assert service.active_sessions == 0
        assert service.report(check_id).status is CheckStatus.COMPLETE
        await service.close()

    netns.run(scenario)


def test_echo_session_closes_when_caller_never_connects(netns: NetworkNamespace) -> None:
    async def scenario() -> None:
        service = fast_service(connect_timeout=1.0)
        peer = PrecheckPeer(video=TestPatternVideoTrack(), audio=SineToneAudioTrack())
        try:
            # The answer is never applied, so ICE never starts on the caller's side.
            check_id, _ = await service.create(await peer.offer())
            report = await asyncio.wait_for(service.wait_complete(check_id), TIMEOUT)
            assert report.network.code == "network-no-connection"
            assert report.camera.code == "camera-no-frames"
        finally:
            await peer.close()
            await service.close()

    netns.run(scenario)


def test_precheck_http_endpoints(netns: NetworkNamespace) -> None:
    async def scenario() -> None:
        service = fast_service()
        app = FastAPI()
        app.include_router(precheck_router(service))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            pushed, peer = await asyncio.wait_for(run_precheck(http), TIMEOUT)
            try:
                check_id = pushed["check_id"]
                got = await http.get(f"/api/v1/precheck/{check_id}")
                assert got.status_code == 200
                assert got.json() == pushed
                assert pushed["passed"] is True
                assert (await http.delete(f"/api/v1/precheck/{check_id}")).status_code == 204
            finally:
                await peer.close()

            bad = await http.post("/api/v1/precheck", json={"sdp": "hello", "type": "offer"})
            assert bad.status_code == 400
            assert bad.json()["error"]["code"] == "precheck-invalid-offer"
            wrong_type = await http.post("/api/v1/precheck", json={"sdp": "v=0", "type": "answer"})
            assert wrong_type.status_code == 422
            missing = await http.get("/api/v1/precheck/nope")
            assert missing.status_code == 404
            assert missing.json()["error"]["code"] == "precheck-unknown"
        await service.close()

    netns.run(scenario)


def test_unusable_offer_is_refused_and_frees_its_seat(netns: NetworkNamespace) -> None:
    async def scenario() -> None:
        service = fast_service(max_sessions=1)
        # Well-formed enough to pass validation, but no codec aiortc can use.
        sdp = (
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
            "m=video 9 UDP/TLS/RTP/SAVPF 120\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"
            "a=rtpmap:120 NOPE/90000\r\na=sendrecv\r\na=rtcp-mux\r\n"
            "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
            "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\na=setup:actpass\r\n"
        )
        with pytest.raises(InvalidOffer):
            await service.create(RTCSessionDescription(sdp=sdp, type="offer"))
        assert service.active_sessions == 0
        await service.close()

    netns.run(scenario)
