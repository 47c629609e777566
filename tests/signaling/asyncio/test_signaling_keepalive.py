"""The server's keep-alive sweep: quiet sockets are pinged, dead ones closed (1011)."""

from __future__ import annotations

import asyncio

from sig_helpers import Client, issue, make_server, pair

from signaling.errors import CloseCode


async def test_a_socket_that_answers_pings_stays_and_one_that_does_not_is_closed() -> None:
    async with make_server(tick_interval=0.02, ping_interval=0.2, ping_timeout=0.3) as server:
        resident, staff = await pair(server.url)
        # Quiet but alive: its client library answers the pings, for many intervals.
        await asyncio.sleep(1.5)
        await staff.send({"type": "offer", "to": "room-1-res", "sdp": "v=0"})
        assert (await resident.expect("offer")).sdp == "v=0"
        # A peer that stopped reading never answers: closed with 1011.
        assert staff.ws.transport is not None
        staff.ws.transport.pause_reading()
        await resident.expect("peer-reconnecting")  # the server let go of the socket
        staff.ws.transport.resume_reading()
        assert await staff.close_reason() == (CloseCode.INTERNAL_ERROR, "keepalive ping timeout")


async def test_without_a_ping_interval_nothing_is_pinged_or_closed() -> None:
    async with make_server(tick_interval=0.02, ping_interval=None) as server:
        client = await Client.open(server.url)
        assert client.ws.transport is not None
        client.ws.transport.pause_reading()
        await asyncio.sleep(0.5)
        client.ws.transport.resume_reading()
        await client.join("room-1", issue("room-1", "resident", "r1"))
