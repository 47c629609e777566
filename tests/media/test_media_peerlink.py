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
            assert answer is not None
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


def test_a_stale_answer_is_not_applied_to_a_newer_offer(netns: NetworkNamespace) -> None:
    """The initiator offers twice before any answer (its own resume, then the peer's,
    after a node died) and the answerer answers both: only the answer naming the
    pending offer is applied, so the link connects on the second connection; the
    superseded first offer, arriving again, is not answered."""

    async def scenario() -> None:
        sources = [SineToneAudioTrack(), TestPatternVideoTrack()]

        def make_link(peer: str, *, initiator: bool) -> PeerLink:
            return PeerLink(
                peer,
                initiator=initiator,
                make_pc=lambda: RTCPeerConnection(rtc_configuration()),
                relay=MediaRelay(),
                sources=sources,
                on_connected=noop,
                on_failed=noop,
            )

        staff = make_link("resident", initiator=True)
        resident = make_link("staff", initiator=False)
        try:
            first = await staff.create_offer()
            first_id = staff.offer_negotiation
            second = await staff.create_offer()
            second_id = staff.offer_negotiation
            assert first_id is not None and second_id is not None
            assert second_id > first_id
            assert staff.generation == 2

            first_answer = await resident.accept_offer(first, first_id)
            second_answer = await resident.accept_offer(second, second_id)
            assert first_answer is not None and second_answer is not None
            assert resident.generation == 2  # the second offer restarts ICE
            # Late or duplicated, the first offer must not displace the second.
            assert await resident.accept_offer(first, first_id) is None
            assert resident.generation == 2

            assert not await staff.accept_answer(first_answer, first_id)
            assert await staff.accept_answer(second_answer, second_id)
            assert staff.generation == 2
            await asyncio.wait_for(staff.connected.wait(), TIMEOUT)
            await asyncio.wait_for(resident.connected.wait(), TIMEOUT)
            for link in (staff, resident):
                stats = await asyncio.wait_for(
                    link.wait_media(video_above=5, audio_frames=10), TIMEOUT
                )
                assert stats.video is not None
                assert stats.video.frame_numbers_increasing
        finally:
            await staff.close()
            await resident.close()
            for source in sources:
                source.stop()

    netns.run(scenario)


def test_an_answer_without_a_negotiation_id_is_applied(netns: NetworkNamespace) -> None:
    """A peer or server from before negotiation ids sends none: applied as before."""

    async def scenario() -> None:
        sources = [SineToneAudioTrack(), TestPatternVideoTrack()]
        links = [
            PeerLink(
                peer,
                initiator=peer == "resident",
                make_pc=lambda: RTCPeerConnection(rtc_configuration()),
                relay=MediaRelay(),
                sources=sources,
                on_connected=noop,
                on_failed=noop,
            )
            for peer in ("resident", "staff")
        ]
        staff, resident = links
        try:
            offer = await staff.create_offer()
            answer = await resident.accept_offer(offer)
            assert answer is not None
            assert await staff.accept_answer(answer)
            await asyncio.wait_for(staff.connected.wait(), TIMEOUT)
            await asyncio.wait_for(resident.connected.wait(), TIMEOUT)
        finally:
            for link in links:
                await link.close()
            for source in sources:
                source.stop()

    netns.run(scenario)
