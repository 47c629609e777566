"""The caller's side of the pre-call check, in Python.

What a browser does on the check page, for tests, benchmarks and integrators
(e.g. a kiosk health probe): offer synthetic (or given) audio and video plus a
data channel, answer the service's pings, meter the echo that comes back and
receive the pushed report.

:class:`PrecheckPeer` is transport-free (``offer()`` / ``accept(answer)``);
:func:`run_precheck` drives it against the HTTP endpoint of :mod:`media.http`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from typing import Any

import httpx
from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from media.ice import IceServer, rtc_configuration
from media.meter import TrackMeter
from media.synthetic import SineToneAudioTrack, TestPatternVideoTrack

log = logging.getLogger(__name__)

PRECHECK_PATH = "/api/v1/precheck"


class PrecheckPeer:
    """One check from the caller's side; ``None`` for a track means "no such device"."""

    def __init__(
        self,
        *,
        video: MediaStreamTrack | None,
        audio: MediaStreamTrack | None,
        ice_servers: Iterable[IceServer | str] = (),
    ) -> None:
        self.pc = RTCPeerConnection(rtc_configuration(ice_servers))
        self.echoed: dict[str, TrackMeter] = {}
        self._tracks = [t for t in (audio, video) if t is not None]
        self._report: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._channel: RTCDataChannel | None = None

    async def offer(self) -> RTCSessionDescription:
        for track in self._tracks:
            self.pc.addTrack(track)
        self._channel = channel = self.pc.createDataChannel("precheck")
        channel.on("message", self._on_message)
        self.pc.on("track", self._on_track)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        local = self.pc.localDescription
        return RTCSessionDescription(sdp=local.sdp, type=local.type)

    async def accept(self, answer: RTCSessionDescription) -> None:
        await self.pc.setRemoteDescription(answer)

    async def wait_report(self) -> dict[str, Any]:
        """The report the service pushes when done; bound it with a timeout."""
        return await asyncio.shield(self._report)

    async def close(self) -> None:
        for meter in self.echoed.values():
            await meter.stop()
        for track in self._tracks:
            track.stop()
        await self.pc.close()

    def _on_track(self, track: MediaStreamTrack) -> None:
        meter = TrackMeter(track)
        self.echoed[track.kind] = meter
        meter.start()

    def _on_message(self, message: object) -> None:
        if not isinstance(message, str):
            return
        try:
            data = json.loads(message)
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        if data.get("type") == "ping" and self._channel is not None:
            self._channel.send(json.dumps({"type": "pong", "id": data.get("id")}))
        elif data.get("type") == "report" and not self._report.done():
            self._report.set_result(data.get("report", {}))


async def run_precheck(
    http: httpx.AsyncClient,
    *,
    video: bool = True,
    audio: bool = True,
    ice_servers: Iterable[IceServer | str] = (),
    path: str = PRECHECK_PATH,
) -> tuple[dict[str, Any], PrecheckPeer]:
    """POST an offer to ``path``, wait for the pushed report; return it and the peer.

    The caller closes the peer (after inspecting ``peer.echoed`` if it wants to).
    """
    peer = PrecheckPeer(
        video=TestPatternVideoTrack() if video else None,
        audio=SineToneAudioTrack() if audio else None,
        ice_servers=ice_servers,
    )
    try:
        offer = await peer.offer()
        response = await http.post(path, json={"sdp": offer.sdp, "type": offer.type})
        response.raise_for_status()
        body = response.json()
        await peer.accept(RTCSessionDescription(sdp=body["sdp"], type=body["type"]))
        report = await peer.wait_report()
    except BaseException:
        await peer.close()
        raise
    log.info("precheck %s: report received", body.get("check_id"))
    return report, peer
