"""One WebRTC link from the client library to one remote participant.

A :class:`PeerLink` owns the ``RTCPeerConnection`` towards a peer and replaces
it on every ICE restart. aiortc 1.16 cannot restart ICE: ``createOffer`` takes
no ``iceRestart`` option, ``setRemoteDescription`` ignores a changed
``ice-ufrag``/``ice-pwd``, and its ICE transport cannot be restarted once
closed or failed. So a restart is done by renegotiating from scratch:

* the **initiator** (the side the server names) closes its connection, builds
  a new one and sends a fresh offer (new ICE credentials, new DTLS);
* the **answerer** sees an offer whose ``ice-ufrag`` differs from the one it
  is connected with (as any browser's ``iceRestart: true`` offer has), and
  answers from a new connection too.

Every offer carries a **negotiation id** (docs/signaling.md), raised with
each offer and echoed by the answer. When both sides resume after their node
died, the initiator may send two restart offers (one for its own resume, one
for the peer's) and both can arrive; the answerer answers each in turn, and
without the id the initiator would apply the answer to the *first* offer to
the connection it built for the *second* (a DTLS fingerprint and ICE
credentials of a connection already closed), then drop the right answer as
unexpected: a link that never connects. So an answer is applied only to the
offer it names, and an offer older than one already answered is ignored.

Media stops for the few hundred milliseconds the new connection needs, then
flows again; the caller keeps its local tracks (through ``MediaRelay``, since
an ``RTCRtpSender`` stops its track when closed).

The data channel is created by the initiator (label ``madoguchi``) and
carries JSON text: ``{"type": "message", "body": str}`` for application
messages and ``{"type": "ping"|"pong", "id": int}`` for round trips.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.sdp import candidate_from_sdp

from media.meter import TrackMeter, TrackStats
from signaling.messages import MAX_NEGOTIATION, IceCandidate

log = logging.getLogger(__name__)

DATA_CHANNEL_LABEL = "madoguchi"
_MAX_PENDING_CANDIDATES = 64


def _next_negotiation(last: int) -> int:
    # Milliseconds since the epoch, but never below the last id: ids keep rising
    # across a restarted client (whose counter would begin again) and a clock
    # stepped back, so "older than the last one answered" stays meaningful.
    return min(MAX_NEGOTIATION, max(last + 1, time.time_ns() // 1_000_000))


def _number(stats: TrackStats) -> int:
    return -1 if stats.last_frame_number is None else stats.last_frame_number


def ice_ufrag(sdp: str) -> str | None:
    """The first ``a=ice-ufrag`` of an SDP (bundled sessions share one)."""
    for line in sdp.splitlines():
        if line.startswith("a=ice-ufrag:"):
            return line.split(":", 1)[1].strip()
    return None


@dataclass(frozen=True, slots=True)
class LinkStats:
    peer: str
    generation: int  # how many RTCPeerConnections this link has built
    connection_state: str
    video_frames: int  # decoded, over all generations
    audio_frames: int
    audio_packets: int  # RTP packets received (current generation + earlier ones)
    data_messages: int
    round_trips: int
    last_round_trip_ms: float | None
    video: TrackStats | None  # the current generation's video meter
    audio: TrackStats | None


class PeerLink:
    """The media link to ``peer``; ``send`` delivers signaling messages for it."""

    def __init__(
        self,
        peer: str,
        *,
        initiator: bool,
        make_pc: Callable[[], RTCPeerConnection],
        relay: MediaRelay,
        sources: list[MediaStreamTrack],
        on_connected: Callable[[PeerLink], Awaitable[None]],
        on_failed: Callable[[PeerLink], Awaitable[None]],
    ) -> None:
        self.peer = peer
        self.initiator = initiator
        self._make_pc = make_pc
        self._relay = relay
        self._sources = sources
        self._on_connected = on_connected
        self._on_failed = on_failed
        self.pc: RTCPeerConnection | None = None
        self.generation = 0
        self.channel: RTCDataChannel | None = None
        self.meters: dict[str, TrackMeter] = {}
        self.messages: asyncio.Queue[str] = asyncio.Queue()
        self.connected = asyncio.Event()
        self._channel_changed = asyncio.Event()
        self._tracks_changed = asyncio.Event()
        self._remote_ufrag: str | None = None
        self._pending: list[IceCandidate | None] = []
        # The id of our offer awaiting its answer (None: none, or it was
        # answered), the last id we offered, and the highest offer id answered.
        self.offer_negotiation: int | None = None
        self._last_offered = 0
        self._last_answered = 0
        self._earlier = {"video": 0, "audio": 0, "packets": 0}
        self._data_messages = 0
        self._round_trips = 0
        self._last_rtt: float | None = None
        self._pings: dict[int, tuple[float, asyncio.Future[float]]] = {}
        self._ping_seq = 0
        self.closed = False

    # -- negotiation ----------------------------------------------------------------

    async def create_offer(self) -> str:
        """A fresh connection and its offer: a first call or an ICE restart.

        Send it with :attr:`offer_negotiation`, the id its answer must carry.
        """
        pc = await self._renew()
        self._last_offered = _next_negotiation(self._last_offered)
        self.offer_negotiation = self._last_offered
        self.channel = pc.createDataChannel(DATA_CHANNEL_LABEL)
        self._wire_channel(self.channel)
        for source in self._sources:
            pc.addTrack(self._relay.subscribe(source, buffered=False))
        await pc.setLocalDescription(await pc.createOffer())
        return str(pc.localDescription.sdp)

    async def accept_offer(self, sdp: str, negotiation: int | None = None) -> str | None:
        """Answer ``sdp``; from a new connection if it restarts ICE.

        Send the answer with the same ``negotiation``. ``None`` (nothing to
        send) if the offer is superseded: its id is not above one we answered.
        An offer without an id (an older peer or server) is always answered.
        """
        if negotiation is not None:
            if negotiation <= self._last_answered:
                log.info(
                    "peer %s: superseded offer %d ignored (answered %d)",
                    self.peer,
                    negotiation,
                    self._last_answered,
                )
                return None
            self._last_answered = negotiation
        ufrag = ice_ufrag(sdp)
        pc = self.pc
        if (
            pc is None
            or pc.connectionState in ("failed", "closed")
            or (pc.remoteDescription is not None and ufrag != self._remote_ufrag)
        ):
            pc = await self._renew()
        self._remote_ufrag = ufrag
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        # Add our tracks only now, matching the offer: aiortc cannot answer with a
        # media kind the offer lacks, so kinds the offer has no m-line for stay unsent.
        offered = {t.kind for t in pc.getTransceivers()}
        senders = {s.track.kind for s in pc.getSenders() if s.track is not None}
        for source in self._sources:
            if source.kind in offered and source.kind not in senders:
                pc.addTrack(self._relay.subscribe(source, buffered=False))
        await pc.setLocalDescription(await pc.createAnswer())
        await self._flush_candidates()
        return str(pc.localDescription.sdp)

    async def accept_answer(self, sdp: str, negotiation: int | None = None) -> bool:
        """Apply the answer to our pending offer; ``False`` if it was ignored.

        An answer naming another offer than the pending one is stale (it
        answers an offer we have since replaced) and must not be applied; one
        without an id (an older peer or server) is applied as before.
        """
        pc = self.pc
        if pc is None or pc.signalingState != "have-local-offer":
            log.info("peer %s: answer without a pending offer ignored", self.peer)
            return False
        if negotiation is not None and negotiation != self.offer_negotiation:
            log.info(
                "peer %s: stale answer %d ignored (waiting for %s)",
                self.peer,
                negotiation,
                self.offer_negotiation,
            )
            return False
        self.offer_negotiation = None
        self._remote_ufrag = ice_ufrag(sdp)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        await self._flush_candidates()
        return True

    async def add_candidate(self, candidate: IceCandidate | None) -> None:
        """A trickled candidate from a browser peer (aiortc peers send none)."""
        pc = self.pc
        if pc is None or pc.remoteDescription is None:
            if len(self._pending) < _MAX_PENDING_CANDIDATES:
                self._pending.append(candidate)
            return
        if candidate is not None and candidate.username_fragment not in (None, self._remote_ufrag):
            return  # for a connection we have since replaced
        if candidate is None or not candidate.candidate:
            await pc.addIceCandidate(None)
            return
        text = candidate.candidate
        parsed = candidate_from_sdp(
            text.split(":", 1)[1] if text.startswith("candidate:") else text
        )
        parsed.sdpMid = candidate.sdp_mid
        parsed.sdpMLineIndex = candidate.sdp_mline_index
        await pc.addIceCandidate(parsed)

    async def _flush_candidates(self) -> None:
        pending, self._pending = self._pending, []
        for candidate in pending:
            await self.add_candidate(candidate)

    async def _renew(self) -> RTCPeerConnection:
        await self._close_pc()
        self.generation += 1
        self.connected.clear()
        self._remote_ufrag = None
        pc = self._make_pc()
        self.pc = pc
        generation = self.generation
        pc.on("track", self._on_track)
        pc.on("datachannel", self._on_datachannel)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if self.generation != generation:
                return
            state = pc.connectionState
            log.debug("peer %s: connection %s (generation %d)", self.peer, state, generation)
            if state == "connected" and not self.connected.is_set():
                self.connected.set()
                await self._on_connected(self)
            elif state == "failed":
                await self._on_failed(self)

        log.debug("peer %s: new connection (generation %d)", self.peer, generation)
        return pc

    async def _close_pc(self) -> None:
        pc, self.pc = self.pc, None
        if pc is None:
            return
        with contextlib.suppress(Exception):
            await self._count_packets(pc)
        for meter in self.meters.values():
            await meter.stop()
            self._earlier[meter.kind] += meter.stats().frames
        self.meters = {}
        self.channel = None
        self._channel_changed.set()
        self._tracks_changed.set()
        await pc.close()

    async def _count_packets(self, pc: RTCPeerConnection) -> None:
        for stats in (await pc.getStats()).values():
            if stats.type == "inbound-rtp" and stats.kind == "audio":
                self._earlier["packets"] += stats.packetsReceived

    async def close(self) -> None:
        self.closed = True
        for _, future in self._pings.values():
            future.cancel()
        await self._close_pc()

    # -- media and data ---------------------------------------------------------------

    def _on_track(self, track: MediaStreamTrack) -> None:
        meter = TrackMeter(track)
        self.meters[track.kind] = meter
        meter.start()
        self._tracks_changed.set()

    async def wait_media(self, *, video_above: int = -1, audio_frames: int = 1) -> LinkStats:
        """Wait until this link decodes a video frame numbered above ``video_above``
        and ``audio_frames`` audio frames on its current connection; bound it with a
        timeout. Frame numbers come from :class:`~media.synthetic.TestPatternVideoTrack`.
        """
        while True:
            video, audio = self.meters.get("video"), self.meters.get("audio")
            if video is None or audio is None:
                self._tracks_changed.clear()
                await self._tracks_changed.wait()
                continue
            try:
                await video.wait_for(lambda s: _number(s) > video_above)
                await audio.wait_for(lambda s: s.frames >= audio_frames)
            except MediaStreamError:
                continue  # the connection was replaced meanwhile; wait on the new one
            if self.meters.get("video") is video and self.meters.get("audio") is audio:
                return await self.stats()

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        self.channel = channel
        self._wire_channel(channel)
        self._channel_changed.set()

    def _wire_channel(self, channel: RTCDataChannel) -> None:
        channel.on("open", self._channel_changed.set)
        channel.on("close", self._channel_changed.set)

        @channel.on("message")
        def on_message(message: object) -> None:
            if channel is not self.channel or not isinstance(message, str):
                return
            try:
                data = json.loads(message)
            except ValueError:
                return
            if not isinstance(data, dict):
                return
            kind = data.get("type")
            if kind == "message" and isinstance(data.get("body"), str):
                self._data_messages += 1
                self.messages.put_nowait(data["body"])
            elif kind == "ping":
                channel.send(json.dumps({"type": "pong", "id": data.get("id")}))
            elif kind == "pong" and isinstance(data.get("id"), int):
                sent = self._pings.pop(data["id"], None)
                if sent is not None:
                    rtt = (time.monotonic() - sent[0]) * 1000.0
                    self._round_trips += 1
                    self._last_rtt = rtt
                    if not sent[1].done():
                        sent[1].set_result(rtt)

    async def wait_channel_open(self) -> RTCDataChannel:
        """The current generation's data channel once open; bound it with a timeout."""
        while True:
            channel = self.channel
            if channel is not None and channel.readyState == "open":
                return channel
            self._channel_changed.clear()
            await self._channel_changed.wait()

    def send(self, body: str) -> None:
        channel = self.channel
        if channel is None or channel.readyState != "open":
            raise RuntimeError(f"no open data channel to {self.peer}")
        channel.send(json.dumps({"type": "message", "body": body}))

    async def ping(self) -> float:
        """One data channel round trip in milliseconds; bound it with a timeout."""
        channel = await self.wait_channel_open()
        self._ping_seq += 1
        seq = self._ping_seq
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._pings[seq] = (time.monotonic(), future)
        channel.send(json.dumps({"type": "ping", "id": seq}))
        try:
            return await future
        finally:
            self._pings.pop(seq, None)

    async def stats(self) -> LinkStats:
        video = self.meters.get("video")
        audio = self.meters.get("audio")
        packets = self._earlier["packets"]
        if self.pc is not None:
            with contextlib.suppress(Exception):
                for s in (await self.pc.getStats()).values():
                    if s.type == "inbound-rtp" and s.kind == "audio":
                        packets += s.packetsReceived
        return LinkStats(
            peer=self.peer,
            generation=self.generation,
            connection_state=self.pc.connectionState if self.pc else "closed",
            video_frames=self._earlier["video"] + (video.stats().frames if video else 0),
            audio_frames=self._earlier["audio"] + (audio.stats().frames if audio else 0),
            audio_packets=packets,
            data_messages=self._data_messages,
            round_trips=self._round_trips,
            last_round_trip_ms=self._last_rtt,
            video=video.stats() if video else None,
            audio=audio.stats() if audio else None,
        )
