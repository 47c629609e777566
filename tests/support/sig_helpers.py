"""Test helpers: token issuing and a small WebSocket client speaking the protocol."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.calls.signaling_auth import token_authenticator
from app.core.tokens import Purpose, Tokens
from signaling.asyncio.bus import Cluster, MemoryBus, MemoryRoomStore
from signaling.asyncio.server import SignalingServer
from signaling.core import CoreConfig, SignalingCore
from signaling.events import EventSink, MemoryEventSink
from signaling.limits import TrustedProxies
from signaling.messages import Message, Source, parse

SECRET = "test-secret-for-signaling-" + "x" * 20
TOKENS = Tokens(SECRET)
# Generous safety net so a broken server fails the test instead of hanging it;
# never used to decide an outcome.
WAIT = 10.0


def issue(
    room: str,
    role: str,
    pid: str,
    *,
    name: str = "テスト",
    opens: timedelta = timedelta(hours=-1),
    closes: timedelta = timedelta(hours=1),
    purpose: Purpose = Purpose.JOIN,
) -> str:
    now = datetime.now(UTC)
    claims = {"room": room, "role": role, "pid": pid, "name": name}
    return TOKENS.issue(purpose, claims, not_before=now + opens, expires=now + closes)


_nodes = itertools.count(1)


def make_server(
    *,
    sink: EventSink | None = None,
    cluster: Cluster | None = None,
    node: str | None = None,
    config: CoreConfig | None = None,
    tick_interval: float = 0.05,
    ended_rooms: Iterable[str] = (),
    on_close: Iterable[Callable[[], Awaitable[None]]] = (),
    trusted_proxies: TrustedProxies | None = None,
    ping_interval: float | None = 20.0,
    ping_timeout: float | None = 20.0,
) -> SignalingServer:
    node = node or f"node{next(_nodes)}"
    core = SignalingCore(
        node=node,
        authenticate=token_authenticator(TOKENS),
        config=config or CoreConfig(),
        ended_rooms=ended_rooms,
    )
    if cluster is None:
        cluster = Cluster(MemoryBus(), MemoryRoomStore(), node=node)
    return SignalingServer(
        core,
        sink=sink or MemoryEventSink(),
        cluster=cluster,
        port=0,
        tick_interval=tick_interval,
        on_close=on_close,
        trusted_proxies=trusted_proxies,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
    )


class Client:
    """A participant's socket: send dicts, receive parsed server messages."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    @classmethod
    async def open(cls, url: str, **options: Any) -> Client:
        """``options`` go to websockets' ``connect`` (e.g. ``local_addr``, headers)."""
        return cls(await connect(url, max_size=2 * 1024 * 1024, **options))

    async def send(self, data: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(data if isinstance(data, str | bytes) else json.dumps(data))

    async def recv(self) -> Message:
        async with asyncio.timeout(WAIT):
            return parse(str(await self.ws.recv()), Source.SERVER)

    async def expect(self, kind: str) -> Any:
        """Next message, which must be of type ``kind``."""
        message = await self.recv()
        assert message.type == kind, f"expected {kind}, got {message!r}"
        return message

    async def join(self, room: str, token: str, **extra: Any) -> Any:
        await self.send({"type": "join", "v": 1, "room": room, "token": token, **extra})
        return await self.expect("joined")

    async def closed(self) -> tuple[int | None, list[Message]]:
        """Read until the server closes; return the close code and what came before."""
        seen: list[Message] = []
        try:
            async with asyncio.timeout(WAIT):
                while True:
                    seen.append(parse(str(await self.ws.recv()), Source.SERVER))
        except ConnectionClosed as exc:
            return (exc.rcvd.code if exc.rcvd else None), seen

    async def close_reason(self) -> tuple[int | None, str]:
        """Wait for the server's close; its code and reason."""
        await self.closed()
        rcvd = self.ws.protocol.close_rcvd
        return (rcvd.code, rcvd.reason) if rcvd else (None, "")

    async def close(self) -> None:
        await self.ws.close()


async def pair(url: str, room: str = "room-1") -> tuple[Client, Client]:
    """A resident waiting and a staff member joined: both told, staff initiates."""
    resident = await Client.open(url)
    await resident.join(room, issue(room, "resident", f"{room}-res"))
    staff = await Client.open(url)
    await staff.join(room, issue(room, "staff", f"{room}-staff"))
    await resident.expect("peer-joined")
    await resident.expect("room-state")
    return resident, staff


# Short timings so node death is noticed within seconds in tests.
FAST_CLUSTER = CoreConfig(heartbeat_interval=0.3, node_timeout=3.0)


async def known_peers(client: Client, joined: Any, expected: set[str]) -> dict[str, Any]:
    """Peers from ``joined`` plus later ``peer-joined`` until ``expected`` are known.

    Across nodes a peer seated a moment ago on another node may reach this
    node's view just after our ``joined``; it then arrives as ``peer-joined``.
    """
    peers = {p.id: p for p in joined.peers}
    while not expected <= set(peers):
        message = await client.expect("peer-joined")
        peers[message.peer.id] = message.peer
    return peers
