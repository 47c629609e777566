"""PeerLink against a browser-like peer that trickles its candidates."""

from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay

from media.ice import rtc_configuration
from media.loopback import NetworkNamespace
from media.peerlink import PeerLink, ice_ufrag
from media.synthetic import SineToneAudioTrack, TestPatternVideoTrack
from signaling.messages import IceCandidate

pytestmark = pytest.mark.media

TIMEOUT = 20.0


def split_candidates(sdp: str) -> tuple[str, list[IceCandidate]]:
    """The SDP without candidates, and its candidates as a browser trickles them."""
    ufrag = ice_ufrag(sdp)
    lines, candidates = [], []
    mline, mid = -1, None
    for line in sdp.split("\r\n"):
        if line.startswith("m="):
            mline += 1
            mid = None
        elif line.startswith("a=mid:"):
            mid = line.split(":", 1)[1]
        if line.startswith("a=candidate:"):
            candidates.append(
                IceCandidate(
                    candidate=line[2:], sdp_mid=mid, sdp_mline_index=mline, username_fragment=ufrag
                )
            )
        elif line != "a=end-of-candidates":
            lines.append(line)
    return "\r\n".join(lines), candidates


async def noop(link: PeerLink) -> None:
    return None


def test_answerer_applies_trickled_candidates(netns: NetworkNamespace) -> None:
    async def scenario() -> None:
        browser = RTCPeerConnection(rtc_configuration())
        browser.addTrack(SineToneAudioTrack())
        browser.addTrack(TestPatternVideoTrack())
        browser.createDataChannel("madoguchi")
        await browser.setLocalDescription(await browser.createOffer())
        offer, candidates = split_candidates(browser.localDescription.sdp)
        assert candidates
        assert "a=candidate" not in offer

        sources = [SineToneAudioTrack(), TestPatternVideoTrack()]
        link = PeerLink(
            "browser",
            initiator=False,
            make_pc=lambda: RTCPeerConnection(rtc_configuration()),
            relay=MediaRelay(),
            sources=sources,
            on_connected=noop,
            on_failed=noop,
        )
        try:
            # A candidate may overtake the offer on the wire: it is kept until then.
            await link.add_candidate(candidates[0])
            answer = await link.accept_offer(offer)
            for candidate in candidates[1:]:
                await link.add_candidate(candidate)
            # A stale candidate (another connection's ufrag) is ignored, not fatal.
            await link.add_candidate(
                IceCandidate(
                    candidate=candidates[0].candidate,
                    sdp_mid=candidates[0].sdp_mid,
                    username_fragment="stale",
                )
            )
            await link.add_candidate(None)  # end-of-candidates
            await browser.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
            await asyncio.wait_for(link.connected.wait(), TIMEOUT)
            stats = await asyncio.wait_for(link.wait_media(video_above=5, audio_frames=10), TIMEOUT)
            assert stats.video is not None
            assert stats.video.frame_numbers_increasing
        finally:
            await link.close()
            await browser.close()
            for source in sources:
                source.stop()

    netns.run(scenario)
