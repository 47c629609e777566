"""The server's own frame splitting (``CoreConnection.data_received``).

Once a connection is open the server cuts the byte stream into frames itself
and hands whole data frames to the core; every other frame goes to
websockets' parser. These tests feed the server-side connection the bytes a
TCP stream may deliver, cut at every awkward place, and check that messages
arrive whole, in order, and that the library still owns control frames and
protocol errors.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from sig_helpers import Client, make_server, pair  # type: ignore[import-not-found]
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from signaling.asyncio.server import MAX_FRAME_BYTES, CoreConnection, SignalingServer
from signaling.core import CoreConfig
from signaling.messages import MAX_MESSAGE_CHARS

ROOM = "room-1"
TO = f"{ROOM}-res"


@pytest.fixture
async def server() -> AsyncIterator[SignalingServer]:
    # Hundreds of frames in a moment: the per-connection rate limit is not under test.
    async with make_server(config=CoreConfig(rate=1e6, burst=1e6)) as srv:
        yield srv


def client_frame(opcode: Opcode, data: bytes, *, fin: bool = True, mask: bool = True) -> bytes:
    return Frame(opcode, data, fin=fin).serialize(mask=mask, extensions=[])


def offer(sdp: str) -> bytes:
    text = json.dumps({"type": "offer", "to": TO, "sdp": sdp})
    return client_frame(Opcode.TEXT, text.encode())


def staff_side(server: SignalingServer) -> CoreConnection:
    """The server's end of the staff socket (the second to connect in ``pair``)."""
    conn = server._sockets[max(server._sockets)]
    assert isinstance(conn, CoreConnection)
    return conn


async def test_frames_cut_anywhere_arrive_whole_and_in_order(server: SignalingServer) -> None:
    resident, _staff = await pair(server.url)
    conn = staff_side(server)
    small = offer("a")  # 7-bit length
    medium = offer("b" * 2000)  # 16-bit length
    ping = client_frame(Opcode.PING, b"keep")
    stream = small + ping + medium
    assert len(small) < 126 + 6 and 126 + 8 < len(medium) < 65536
    # Every cut in the first two frames and around the third's header, then
    # a spread through its payload.
    header_end = len(small) + len(ping) + 12
    cuts = list(range(1, header_end)) + list(range(header_end, len(stream), 101))
    for cut in cuts:
        conn.data_received(stream[:cut])
        conn.data_received(stream[cut:])
        assert (await resident.expect("offer")).sdp == "a", cut
        assert (await resident.expect("offer")).sdp == "b" * 2000, cut
    # Byte by byte, three frames in a row.
    for i in range(len(stream)):
        conn.data_received(stream[i : i + 1])
    assert (await resident.expect("offer")).sdp == "a"
    assert (await resident.expect("offer")).sdp == "b" * 2000
    assert conn.protocol.state is State.OPEN


async def test_several_frames_in_one_read(server: SignalingServer) -> None:
    resident, _staff = await pair(server.url)
    staff_side(server).data_received(b"".join(offer(str(i)) for i in range(20)))
    assert [(await resident.expect("offer")).sdp for _ in range(20)] == [str(i) for i in range(20)]


async def test_a_64_bit_length_frame_reaches_the_core(server: SignalingServer) -> None:
    """A frame above 65,535 bytes (64-bit length) is read whole; the core then
    refuses it as too large for the protocol, and the connection carries on."""
    resident, staff = await pair(server.url)
    big = offer("x" * (MAX_MESSAGE_CHARS + 70_000))
    assert len(big) <= MAX_FRAME_BYTES
    conn = staff_side(server)
    for start in range(0, len(big), 8192):
        conn.data_received(big[start : start + 8192])
    assert (await staff.expect("error")).code == "too-large"
    # The same frame one byte per read (a client trickling it): still whole.
    for start in range(len(big)):
        conn.data_received(big[start : start + 1])
    assert (await staff.expect("error")).code == "too-large"
    await staff.send({"type": "offer", "to": TO, "sdp": "after"})
    assert (await resident.expect("offer")).sdp == "after"


async def test_a_ping_between_data_frames_is_answered_by_the_library(
    server: SignalingServer,
) -> None:
    resident, staff = await pair(server.url)
    pong = await staff.ws.ping(b"are you there")
    await staff.send({"type": "offer", "to": TO, "sdp": "after ping"})
    await pong  # the library answered our ping while the fast path ran
    assert (await resident.expect("offer")).sdp == "after ping"


async def test_an_unmasked_client_frame_is_a_protocol_error(server: SignalingServer) -> None:
    _resident, staff = await pair(server.url)
    staff.ws.transport.write(client_frame(Opcode.TEXT, b'{"type":"ping"}', mask=False))
    code, _ = await staff.closed()
    assert code == 1002


async def test_a_frame_announcing_more_than_the_limit_closes_with_1009(
    server: SignalingServer,
) -> None:
    _resident, staff = await pair(server.url)
    too_big = MAX_FRAME_BYTES + 1
    header = bytes((0x81, 0x80 | 127)) + too_big.to_bytes(8) + b"mask"
    staff.ws.transport.write(header)  # the server must refuse before the payload
    code, _ = await staff.closed()
    assert code == 1009


async def test_a_reserved_bit_is_a_protocol_error(server: SignalingServer) -> None:
    _resident, staff = await pair(server.url)
    frame = bytearray(client_frame(Opcode.TEXT, b'{"type":"ping"}'))
    frame[0] |= 0x40  # RSV1 without a negotiated extension
    staff.ws.transport.write(bytes(frame))
    code, _ = await staff.closed()
    assert code == 1002


async def test_a_closing_handshake_goes_through_the_library(server: SignalingServer) -> None:
    client = await Client.open(server.url)
    await client.ws.close(1000, "bye")
    assert client.ws.close_code == 1000


async def test_a_fragmented_message_arrives_whole_and_later_ones_in_order(
    server: SignalingServer,
) -> None:
    """Fragments go through the library's parser and are assembled by the
    connection itself (there is no message queue): the core sees one message,
    and every message after it keeps its order."""
    resident, _staff = await pair(server.url)
    conn = staff_side(server)
    text = json.dumps({"type": "offer", "to": TO, "sdp": "frag" * 500}).encode()
    first, middle, last = text[:100], text[100:1000], text[1000:]
    stream = (
        client_frame(Opcode.TEXT, first, fin=False)
        + client_frame(Opcode.PING, b"between")  # control frames may interleave
        + client_frame(Opcode.CONT, middle, fin=False)
        + client_frame(Opcode.CONT, last)
        + offer("after")
    )
    for i in range(0, len(stream), 7):
        conn.data_received(stream[i : i + 7])
    assert (await resident.expect("offer")).sdp == "frag" * 500
    assert (await resident.expect("offer")).sdp == "after"
    assert conn.protocol.state is State.OPEN


async def test_a_fragmented_message_with_invalid_utf8_closes_with_1007(
    server: SignalingServer,
) -> None:
    _resident, staff = await pair(server.url)
    conn = staff_side(server)
    conn.data_received(
        client_frame(Opcode.TEXT, b'{"type":"ping","nonce":"\xc3', fin=False)
        + client_frame(Opcode.CONT, b'\x28"}')
    )
    code, _reason = await staff.closed()
    assert code == 1007
