"""The pre-call check: a server-side aiortc peer that echoes the caller back.

A resident's browser (or a kiosk, or a test client) sends an SDP offer with
its camera, microphone and a data channel. :class:`EchoService` answers from
a fresh ``RTCPeerConnection`` that

* sends each received track straight back (through ``MediaRelay``), so the
  caller sees and hears itself as the other side of a call would;
* meters what arrives: video frames and frame rate, audio frames and level;
* measures the network: round-trip time by ping/pong on the data channel
  (falling back to RTCP receiver reports) and packet loss from RTP stats;
* after ``measure_seconds`` of connection, turns that into a
  :class:`~media.report.CheckReport` (pass/fail per camera, microphone and
  network with a plain reason), pushes it over the data channel and keeps it
  for :meth:`EchoService.report`.

Data channel messages (JSON text, any channel label):

* ``{"type": "ping", "id": <any>}``: whoever receives it answers
  ``{"type": "pong", "id": <same>}``. The service pings every
  ``ping_interval``; a browser must answer its pings for the data-channel
  round trip (otherwise RTCP is used). The browser may ping too.
* ``{"type": "report", "report": {...}}``: sent once by the service when the
  check completes (same shape as ``CheckReport.to_dict()``).

The service is transport-free: :mod:`media.http` exposes it over HTTP.
Sessions are bounded (``max_sessions``), closed when idle, when the
connection fails, or after ``max_duration``; reports outlive their session
for ``report_retention`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import statistics
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from media.errors import InvalidOffer, TooManyChecks, UnknownCheck
from media.ice import IceServer, as_ice_servers, rtc_configuration
from media.meter import TrackMeter
from media.report import CheckReport, Measurements, Thresholds, evaluate

__all__ = ["MAX_SDP_BYTES", "CheckReport", "EchoService", "Thresholds"]

log = logging.getLogger(__name__)

# A browser offer with audio, video and data is 5-12 KB; anything far beyond is abuse.
MAX_SDP_BYTES = 64 * 1024
_MAX_DC_MESSAGE = 2048
# Round-trip samples to keep per session (a few per second over a short check).
_MAX_RTT_SAMPLES = 200


class EchoService:
    """Creates, tracks and tears down echo sessions. One per process.

    Each session decodes and re-encodes the caller's video (VP8 at the
    browser's resolution), roughly a third of a core at 640x480/30 fps; size
    ``max_sessions`` to the machine (the default suits 2 cores next to the app).
    """

    def __init__(
        self,
        *,
        ice_servers: Iterable[IceServer | str] = (),
        thresholds: Thresholds | None = None,
        max_sessions: int = 4,
        measure_seconds: float = 5.0,
        connect_timeout: float = 20.0,
        idle_timeout: float = 30.0,
        max_duration: float = 180.0,
        ping_interval: float = 0.5,
        report_retention: float = 600.0,
        max_reports: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        if min(measure_seconds, connect_timeout, idle_timeout, max_duration, ping_interval) <= 0:
            raise ValueError("durations must be positive")
        self.ice_servers = as_ice_servers(ice_servers)
        self.thresholds = thresholds or Thresholds()
        self.max_sessions = max_sessions
        self.measure_seconds = measure_seconds
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self.max_duration = max_duration
        self.ping_interval = ping_interval
        self.report_retention = report_retention
        self.max_reports = max_reports
        self._clock = clock
        self._sessions: dict[str, _EchoSession] = {}
        # check_id -> (final report, forgotten-at); oldest first.
        self._reports: OrderedDict[str, tuple[CheckReport, float]] = OrderedDict()
        self._closed = False

    @property
    def active_sessions(self) -> int:
        return len(self._sessions)

    async def create(self, offer: RTCSessionDescription) -> tuple[str, RTCSessionDescription]:
        """Answer ``offer``; returns the check id and the answer (ICE fully gathered)."""
        if self._closed:
            raise TooManyChecks("the pre-call check service is shutting down")
        _validate_offer(offer)
        self._forget_old_reports()
        if len(self._sessions) >= self.max_sessions:
            raise TooManyChecks(
                f"{self.max_sessions} checks are already running; please try again in a minute"
            )
        check_id = secrets.token_urlsafe(12)
        session = _EchoSession(check_id, self)
        # Reserve the seat before the first await so concurrent creates respect the limit.
        self._sessions[check_id] = session
        try:
            answer = await session.start(offer)
        except Exception as exc:
            await self._drop(check_id, keep_report=False)
            log.info("precheck %s: offer refused: %s", check_id, type(exc).__name__)
            raise InvalidOffer("the offer could not be answered") from exc
        log.info("precheck %s: session started (%d active)", check_id, len(self._sessions))
        return check_id, answer

    def report(self, check_id: str) -> CheckReport:
        """The current report: ``running`` while measuring, then ``complete``."""
        session = self._sessions.get(check_id)
        if session is not None:
            return session.current_report()
        kept = self._reports.get(check_id)
        if kept is None:
            raise UnknownCheck("no such pre-call check (it may have expired)")
        return kept[0]

    async def wait_complete(self, check_id: str) -> CheckReport:
        """Wait for the final report of ``check_id``; bound it with a timeout."""
        session = self._sessions.get(check_id)
        if session is not None:
            return await session.wait_complete()
        return self.report(check_id)

    async def wait_closed(self, check_id: str) -> None:
        """Return once the session ``check_id`` has ended (for any reason)."""
        session = self._sessions.get(check_id)
        if session is not None:
            await session.closed.wait()

    async def close_session(self, check_id: str) -> None:
        if check_id not in self._sessions and check_id not in self._reports:
            raise UnknownCheck("no such pre-call check")
        await self._drop(check_id)

    async def close(self) -> None:
        """Close every session (at application shutdown)."""
        self._closed = True
        await asyncio.gather(*(self._drop(cid) for cid in list(self._sessions)))

    async def _drop(self, check_id: str, *, keep_report: bool = True) -> None:
        session = self._sessions.get(check_id)
        if session is None:
            return
        report = await session.close()
        # Remove only after close(): until then the seat is still in use.
        self._sessions.pop(check_id, None)
        session.closed.set()
        if report is not None and keep_report:
            self._reports[check_id] = (report, self._clock() + self.report_retention)
            self._forget_old_reports()
        log.info("precheck %s: session closed (%d active)", check_id, len(self._sessions))

    def _forget_old_reports(self) -> None:
        now = self._clock()
        while self._reports:
            check_id, (_, forget_at) = next(iter(self._reports.items()))
            if forget_at > now and len(self._reports) <= self.max_reports:
                break
            del self._reports[check_id]


def _validate_offer(offer: RTCSessionDescription) -> None:
    if offer.type != "offer":
        raise InvalidOffer("expected an SDP of type 'offer'")
    if len(offer.sdp.encode()) > MAX_SDP_BYTES:
        raise InvalidOffer(f"the offer is larger than {MAX_SDP_BYTES} bytes")
    if not offer.sdp.startswith("v=0") or "\nm=" not in offer.sdp:
        raise InvalidOffer("the offer is not a session description with media")


class _EchoSession:
    def __init__(self, check_id: str, service: EchoService) -> None:
        self.check_id = check_id
        self._service = service
        self._clock = service._clock
        self._created_at = self._clock()
        self._last_activity = self._created_at
        self._pc = RTCPeerConnection(rtc_configuration(service.ice_servers))
        self._relay = MediaRelay()
        self._meters: dict[str, TrackMeter] = {}
        self._channel: RTCDataChannel | None = None
        self._connected = False
        self._rtt_samples: list[float] = []
        self._pings: dict[int, float] = {}
        self._ping_seq = 0
        self._rtcp_rtt: float | None = None
        self._packets = (0, 0)
        self._final: CheckReport | None = None
        self._complete = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._finishing = asyncio.Lock()
        self.closed = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------

    async def start(self, offer: RTCSessionDescription) -> RTCSessionDescription:
        pc = self._pc
        pc.on("track", self._on_track)
        pc.on("datachannel", self._on_datachannel)
        pc.on("connectionstatechange", self._on_connection_state)
        # Tracks are added inside the "track" handler, i.e. during
        # setRemoteDescription: aiortc cannot answer with a kind the offer lacks.
        await pc.setRemoteDescription(offer)
        await pc.setLocalDescription(await pc.createAnswer())
        self._spawn(self._watchdog(), "watchdog")
        local = pc.localDescription
        return RTCSessionDescription(sdp=local.sdp, type=local.type)

    async def close(self) -> CheckReport | None:
        """Finish the report (if not yet) and release the peer connection."""
        if self._closing:
            await self._complete.wait()
            return self._final
        self._closing = True
        if self._final is None and self._pc.signalingState != "closed":
            with contextlib.suppress(Exception):
                await self._finish()
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
        for meter in self._meters.values():
            await meter.stop()
        await self._pc.close()
        if self._final is None:
            self._final = evaluate(
                self.check_id, self._measurements(), self._service.thresholds, complete=True
            )
        self._complete.set()
        return self._final

    def current_report(self) -> CheckReport:
        if self._final is not None:
            return self._final
        return evaluate(
            self.check_id, self._measurements(), self._service.thresholds, complete=False
        )

    async def wait_complete(self) -> CheckReport:
        await self._complete.wait()
        assert self._final is not None
        return self._final

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=f"precheck-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _request_close(self, why: str) -> None:
        log.info("precheck %s: closing (%s)", self.check_id, why)
        self._spawn(self._service._drop(self.check_id), "close")

    # -- peer connection events ---------------------------------------------------

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind in self._meters:
            return  # one track per kind is all a check needs
        meter = TrackMeter(self._relay.subscribe(track, buffered=False), clock=self._clock)
        self._meters[track.kind] = meter
        meter.start()
        self._pc.addTrack(self._relay.subscribe(track, buffered=False))
        log.debug("precheck %s: echoing %s", self.check_id, track.kind)

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if self._channel is not None:
            return
        self._channel = channel
        channel.on("message", self._on_message)
        self._spawn(self._pinger(channel), "pinger")

    def _on_connection_state(self) -> None:
        state = self._pc.connectionState
        log.debug("precheck %s: connection %s", self.check_id, state)
        if state == "connected" and not self._connected:
            self._connected = True
            self._last_activity = self._clock()
            self._spawn(self._measure(), "measure")
        elif state in ("failed", "closed") and not self._closing:
            self._request_close(f"connection {state}")

    def _on_message(self, message: object) -> None:
        if not isinstance(message, str) or len(message) > _MAX_DC_MESSAGE:
            return
        self._last_activity = self._clock()
        try:
            data = json.loads(message)
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        if data.get("type") == "ping" and self._channel is not None:
            self._send({"type": "pong", "id": data.get("id")})
        elif data.get("type") == "pong" and isinstance(data.get("id"), int):
            sent = self._pings.pop(data["id"], None)
            if sent is not None and len(self._rtt_samples) < _MAX_RTT_SAMPLES:
                self._rtt_samples.append((self._clock() - sent) * 1000.0)

    def _send(self, data: dict[str, Any]) -> None:
        channel = self._channel
        if channel is not None and channel.readyState == "open":
            channel.send(json.dumps(data))

    # -- background tasks ---------------------------------------------------------

    async def _pinger(self, channel: RTCDataChannel) -> None:
        while channel.readyState in ("connecting", "open"):
            if channel.readyState == "open":
                self._ping_seq += 1
                self._pings[self._ping_seq] = self._clock()
                # Unanswered pings must not pile up if the caller never answers.
                if len(self._pings) > 20:
                    self._pings.pop(next(iter(self._pings)))
                self._send({"type": "ping", "id": self._ping_seq})
            await asyncio.sleep(self._service.ping_interval)

    async def _measure(self) -> None:
        await asyncio.sleep(self._service.measure_seconds)
        await self._finish()

    async def _finish(self) -> None:
        async with self._finishing:
            if self._final is not None:
                return
            await self._collect_rtp_stats()
            self._final = evaluate(
                self.check_id, self._measurements(), self._service.thresholds, complete=True
            )
        log.info(
            "precheck %s: complete camera=%s microphone=%s network=%s",
            self.check_id,
            self._final.camera.code,
            self._final.microphone.code,
            self._final.network.code,
        )
        self._send({"type": "report", "report": self._final.to_dict()})
        self._complete.set()

    async def _watchdog(self) -> None:
        service = self._service
        step = min(1.0, service.idle_timeout / 4, service.connect_timeout / 4)
        while True:
            await asyncio.sleep(step)
            now = self._clock()
            for meter in self._meters.values():
                if meter.last_frame_at is not None:
                    self._last_activity = max(self._last_activity, meter.last_frame_at)
            if not self._connected and now - self._created_at > service.connect_timeout:
                self._request_close("no connection")
                return
            if self._connected and now - self._last_activity > service.idle_timeout:
                self._request_close("idle")
                return
            if now - self._created_at > service.max_duration:
                self._request_close("maximum duration")
                return

    async def _collect_rtp_stats(self) -> None:
        received = lost = 0
        rtts: list[float] = []
        for stats in (await self._pc.getStats()).values():
            if stats.type == "inbound-rtp":
                received += stats.packetsReceived
                # RTP counts duplicates as negative loss; that is not a gain.
                lost += max(0, stats.packetsLost)
            elif stats.type == "remote-inbound-rtp" and stats.roundTripTime:
                rtts.append(stats.roundTripTime * 1000.0)
        self._packets = (received, lost)
        if rtts:
            self._rtcp_rtt = statistics.fmean(rtts)

    def _measurements(self) -> Measurements:
        video = self._meters.get("video")
        audio = self._meters.get("audio")
        vstats = video.stats() if video else None
        astats = audio.stats() if audio else None
        if self._rtt_samples:
            rtt: float | None = statistics.median(self._rtt_samples)
            source: str | None = "data-channel"
        elif self._rtcp_rtt is not None:
            rtt, source = self._rtcp_rtt, "rtcp"
        else:
            rtt, source = None, None
        return Measurements(
            connected=self._connected,
            video_offered=video is not None,
            audio_offered=audio is not None,
            video_frames=vstats.frames if vstats else 0,
            frame_rate=round(vstats.frame_rate, 2) if vstats else 0.0,
            width=vstats.width if vstats else None,
            height=vstats.height if vstats else None,
            audio_frames=astats.frames if astats else 0,
            audio_frames_with_sound=astats.frames_with_sound if astats else 0,
            audio_peak_level=round(astats.peak_level, 4) if astats else 0.0,
            round_trip_ms=round(rtt, 2) if rtt is not None else None,
            round_trip_source=source,
            packets_received=self._packets[0],
            packets_lost=self._packets[1],
        )
