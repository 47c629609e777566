"""The thin ``websockets`` server around the sans-I/O core.

It only feeds the core (socket frames, bus events, a once-a-second tick) and
performs the actions it returns, in order:

- ``Send``/``SendText``: framed and written at once, synchronously. A socket
  whose peer stopped reading (transport paused) gets its frames from
  background tasks instead, and is closed if its buffer grows past a limit,
  so one slow client never stalls the others or the bus listener.
- ``Close``: in a background task (the closing handshake may take seconds).
- ``Record``: queued on the event sink; after a ``call-end`` the sink is
  flushed before any later action, so ``ended`` is sent only once durable.
- ``Publish``: queued for one publisher task, which keeps bus order.

Nothing here awaits between ordinary actions, so frames leave in the order
the core decided them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from time import monotonic
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import Event, State

try:  # websockets' C extension; the pure-Python fallback where it was not built
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover
    from websockets.utils import apply_mask

from signaling.asyncio.bus import Cluster
from signaling.asyncio.metrics import (
    CONNECTIONS,
    CONNECTIONS_REFUSED,
    CONNECTIONS_TOTAL,
    FRAMES,
)
from signaling.bus import BusEvent
from signaling.core import (
    Action,
    Close,
    Publish,
    Record,
    Send,
    SendText,
    SignalingCore,
)
from signaling.errors import BusError, CloseCode
from signaling.events import EventKind, EventSink
from signaling.limits import TrustedProxies
from signaling.messages import serialize

log = logging.getLogger(__name__)

# The transport refuses frames above this before reading them (close 1009); the
# protocol's own, smaller limit (messages.MAX_MESSAGE_CHARS) answers `too-large`.
MAX_FRAME_BYTES = 1024 * 1024
# A client that stops reading is cut off once this much is waiting for it.
MAX_BUFFERED_BYTES = 4 * 1024 * 1024


def utc_now() -> datetime:
    return datetime.now(UTC)


class _Fast:
    """What ``CoreConnection`` keeps per socket, in one slotted object.

    Python 3.11 shares one key table among the ``__dict__``s of a class's
    instances while they hold at most 30 keys; websockets' connection already
    has 28, so each attribute of ours set on the instance turned its dict into
    a private one (about 1.3 KiB more per socket held). One attribute holding
    this object keeps the dict shared.
    """

    __slots__ = (
        "closed",
        "conn_id",
        "deliver",
        "frag_opcode",
        "frag_parts",
        "last_seen",
        "need",
        "partial",
        "pending",
        "pinged_at",
        "queued",
        "splitting",
    )

    def __init__(self) -> None:
        # Called as deliver(conn_id, message): one bound method for all sockets,
        # not a partial (and its argument tuple) per socket.
        self.deliver: Callable[[int, str | bytes], None] | None = None
        self.conn_id = 0
        # Set once the TCP connection is gone: what the handler task awaits
        # (websockets' wait_closed() shields its own future: ~0.7 KiB more).
        self.closed: asyncio.Future[None] | None = None
        # For the server's keep-alive sweep: when bytes last arrived, and when a
        # ping went out that nothing has answered since (monotonic seconds).
        self.last_seen = 0.0
        self.pinged_at: float | None = None
        # Once a fragmented message is seen, every frame takes the library's path.
        self.queued = False
        self.splitting = False
        # The start of an incomplete frame, and how many bytes that frame needs
        # in all (0 while its header is incomplete). Appending and waiting for
        # ``need`` keeps a frame trickled in tiny reads linear, not quadratic.
        self.partial: bytearray | None = None
        self.need = 0
        # Messages that arrived before ``deliver`` was set, in order.
        self.pending: list[str | bytes] | None = None
        # A fragmented message being assembled: its opcode and parts so far.
        self.frag_opcode: Opcode | None = None
        self.frag_parts: list[bytes] | None = None


class _NoMessages:
    """Stands in for websockets' per-socket message queue (an ``Assembler`` with
    its own deque, about 1 KiB per socket): ``CoreConnection`` hands every data
    message to ``deliver`` and never calls ``recv()``, so nothing is queued."""

    __slots__ = ()

    def put(self, frame: Frame) -> None:  # pragma: no cover - never reached
        raise AssertionError("CoreConnection delivers data frames itself")

    def close(self) -> None:
        pass


_NO_MESSAGES = _NoMessages()


class CoreConnection(ServerConnection):
    """A connection that hands every data message to ``deliver`` directly.

    websockets' asyncio connection queues each message for the handler task
    to ``recv()``: a future, a task switch and several coroutine frames per
    frame, a queue and a suspended ``recv()`` chain per socket; and its
    sans-I/O parser is a generator that costs more than the rest of a relay.
    Signaling is a relay whose own per-message work is tiny, so once the
    connection is open and ``deliver`` is set (``start``), this class splits
    the byte stream into frames itself:

    - a whole, unfragmented, masked text or binary frame without RSV bits and
      within ``max_size`` (every frame a browser sends) is unmasked and handed
      to ``deliver`` synchronously;
    - every other *whole* frame (ping, pong, close, fragments, anything
      malformed) goes to websockets' parser unchanged, so the library keeps
      answering pings, closing handshakes and protocol errors (and enforcing
      ``max_size`` over a fragmented message). The parser only ever sees whole
      frames, so it is always at a frame boundary; the data frames it accepts
      come back through ``process_event``, are assembled here and delivered;
    - an incomplete frame waits in ``partial`` for the next read; a frame
      announcing more than ``max_size`` hands the stream to the library for
      good (it closes with 1009).

    Once a fragmented message is seen the connection stays on the library's
    path, so messages are never reordered. The handler task only waits for
    the connection to close.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fast = _Fast()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.recv_messages = _NO_MESSAGES  # type: ignore[assignment]

    def start(self, conn_id: int, deliver: Callable[[int, str | bytes], None]) -> None:
        """From now on hand messages to ``deliver(conn_id, message)``, first any
        that came early."""
        fast = self.fast
        fast.conn_id = conn_id
        fast.deliver = deliver
        pending, fast.pending = fast.pending, None
        for message in pending or ():
            deliver(conn_id, message)

    async def closed(self) -> None:
        """Wait until the TCP connection is gone (cancelling the wait is harmless)."""
        fast = self.fast
        if self.connection_lost_waiter.done():
            return
        if fast.closed is None:
            fast.closed = self.loop.create_future()
        await fast.closed

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        closed = self.fast.closed
        if closed is not None and not closed.done():
            closed.set_result(None)

    def shed_handshake(self) -> None:
        """Free what websockets keeps after the handshake but never reads again,
        about 3 KiB of every socket held: the request's and response's headers
        (the request object itself stays: the handshake parser's frame refers to
        it, and websockets takes ``request is None`` for "no handshake yet"),
        and the 760-byte deque of write-drain waiters, which is only appended
        to, iterated and removed from, so a list does the same."""
        if self.request is not None:
            self.request.headers.clear()
        if self.response is not None:
            self.response.headers.clear()
        self.response = None
        if not self.drain_waiters:
            self.drain_waiters = []  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        fast = self.fast
        fast.last_seen = monotonic()
        if not fast.splitting:
            if (
                fast.deliver is None
                or fast.queued
                or self.protocol.state is not State.OPEN
                or self.protocol.reader.buffer  # the library holds part of a frame
            ):
                super().data_received(data)
                return
            fast.splitting = True
        if fast.partial:
            fast.partial += data
            if len(fast.partial) < fast.need:
                return
            buf = bytes(fast.partial)
            fast.partial, fast.need = None, 0
        else:
            buf = data
        size = len(buf)
        limit = MAX_FRAME_BYTES  # what serve() gets as max_size
        i = 0
        need = 0
        while size - i >= 2:
            b0 = buf[i]
            b1 = buf[i + 1]
            length = b1 & 0x7F
            head = 2
            if length == 126:
                if size - i < 4:
                    break
                length = int.from_bytes(buf[i + 2 : i + 4])
                head = 4
            elif length == 127:
                if size - i < 10:
                    break
                length = int.from_bytes(buf[i + 2 : i + 10])
                head = 10
            if length > limit:
                # Too big: let the library refuse it (1009) and own the stream.
                fast.splitting = False
                fast.partial, fast.need = None, 0
                super().data_received(buf[i:])
                return
            masked = b1 & 0x80
            if masked:
                head += 4
            end = i + head + length
            if end > size:
                need = head + length
                break
            deliver = fast.deliver
            if (
                masked
                and b0 in _FIN_DATA
                and deliver is not None
                and not fast.queued
                and self.protocol.state is State.OPEN
            ):
                payload = apply_mask(buf[i + head : end], buf[i + head - 4 : i + head])
                if b0 == _FIN_TEXT:
                    try:
                        deliver(fast.conn_id, payload.decode())
                    except UnicodeDecodeError:
                        self.protocol.fail(CloseCode.INVALID_DATA, "invalid UTF-8")
                        self.send_data()
                        fast.splitting = False
                        fast.partial, fast.need = None, 0
                        return
                else:
                    deliver(fast.conn_id, payload)
            else:
                super().data_received(buf[i:end])
            i = end
        if i < size:
            fast.partial, fast.need = bytearray(buf[i:]), need

    def process_event(self, event: Event) -> None:
        if not isinstance(event, Frame) or event.opcode not in _DATA:
            super().process_event(event)
            return
        fast = self.fast
        if event.opcode is Opcode.CONT:
            # The parser refuses a continuation without a message to continue.
            assert fast.frag_parts is not None and fast.frag_opcode is not None
            fast.frag_parts.append(bytes(event.data))
            if not event.fin:
                return
            opcode, data = fast.frag_opcode, b"".join(fast.frag_parts)
            fast.frag_opcode = fast.frag_parts = None
        elif not event.fin:
            fast.queued = True
            fast.frag_opcode, fast.frag_parts = event.opcode, [bytes(event.data)]
            return
        else:
            opcode, data = event.opcode, bytes(event.data)
        message: str | bytes = data
        if opcode is Opcode.TEXT:
            try:
                message = data.decode()
            except UnicodeDecodeError:
                self.protocol.fail(CloseCode.INVALID_DATA, "invalid UTF-8")
                self.send_data()
                return
        if fast.deliver is None:
            if fast.pending is None:
                fast.pending = []
            fast.pending.append(message)
        else:
            fast.deliver(fast.conn_id, message)

    def send_text_now(self, text: str) -> None:
        """Write one unmasked, unfragmented text frame (server side) at once.

        The caller checked the connection is open and not paused; the frame is
        written whole, so it never interleaves with the library's own frames.
        """
        payload = text.encode()
        n = len(payload)
        if n < 126:
            head = bytes((_FIN_TEXT, n))
        elif n < 65536:
            head = _HEAD_16 + n.to_bytes(2)
        else:
            head = _HEAD_64 + n.to_bytes(8)
        self.transport.write(head + payload)


_FIN_TEXT = 0x80 | Opcode.TEXT.value
_FIN_BINARY = 0x80 | Opcode.BINARY.value
_FIN_DATA = (_FIN_TEXT, _FIN_BINARY)
_HEAD_16 = bytes((_FIN_TEXT, 126))
_HEAD_64 = bytes((_FIN_TEXT, 127))
_DATA = frozenset({Opcode.TEXT, Opcode.BINARY, Opcode.CONT})


class SignalingServer:
    """Serve one ``SignalingCore`` on a WebSocket port.

    ``await start()`` binds (``port=0`` picks a free port, see ``.port``),
    ``await close()`` shuts down gracefully: every client is closed with 1012
    ("service restart": reconnect and resume), their seats are handed to the
    grace period and published, and the event sink is flushed.
    """

    def __init__(
        self,
        core: SignalingCore,
        *,
        sink: EventSink,
        cluster: Cluster | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], datetime] = utc_now,
        tick_interval: float = 1.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        on_close: Iterable[Callable[[], Awaitable[None]]] = (),
        trusted_proxies: TrustedProxies | None = None,
    ) -> None:
        self.core = core
        # Whose X-Forwarded-For names the client, for the per-address limits.
        self._proxies = trusted_proxies or TrustedProxies()
        self.sink = sink
        self.cluster = cluster
        self.host = host
        self._port = port
        self._clock = clock
        self._tick_interval = tick_interval
        self._ping_interval = ping_interval
        # A pinged socket silent this long is closed (None: the ping interval).
        self._ping_timeout: float = ping_timeout or ping_interval or 0.0
        # Keep-alive without a task and a timer per connection (websockets'
        # own keep-alive): sockets are spread over slots, and each tick looks
        # at the next slot, so every socket is looked at once per ping interval
        # and the work per tick stays a small share of the connections held.
        slots = 0 if ping_interval is None else max(1, round(ping_interval / tick_interval))
        self._slots: list[dict[int, CoreConnection]] = [{} for _ in range(slots)]
        self._slot = 0
        self._ids = itertools.count(1)
        self._sockets: dict[int, CoreConnection] = {}
        self._slow: dict[int, int] = {}  # sends queued behind a paused transport
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._outbox: asyncio.Queue[BusEvent | None] = asyncio.Queue()
        self._ticker: asyncio.Task[None] | None = None
        self._publisher: asyncio.Task[None] | None = None
        self._on_close = list(on_close)  # resources this server owns (bus, sink)
        self._deliver = self._on_frame  # one bound method shared by every socket

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        port: int = next(iter(self._server.sockets)).getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    async def start(self) -> None:
        if self.cluster is not None:
            await self.cluster.start(self._on_bus_event)
            self.cluster.bus.on_reconnect(self._resync)
            self._perform(self.core.load(await self.cluster.snapshot(), self._clock()))
        self._publisher = asyncio.create_task(self._publish_loop(), name="signaling-publisher")
        self._server = await serve(
            self._handle,
            self.host,
            self._port,
            max_size=MAX_FRAME_BYTES,
            compression=None,  # SDP relays are small; deflate costs CPU per frame
            ping_interval=None,  # our own keep-alive sweep (_keepalive)
            ping_timeout=None,
            close_timeout=5,
            create_connection=CoreConnection,
            process_request=self.http_request,
        )
        # A first tick at once publishes our heartbeat (liveness for snapshots).
        await self._run(self.core.tick(self._clock()))
        self._ticker = asyncio.create_task(self._tick_loop(), name="signaling-ticker")
        log.info("signaling node %s listening on %s:%s", self.core.node, self.host, self.port)

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close(close_connections=False)
        for ws in list(self._sockets.values()):
            self._spawn(ws.close(CloseCode.SERVICE_RESTART, "service restart"))
        await self._server.wait_closed()  # every handler ran its disconnect
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self._outbox.put_nowait(None)
        if self._publisher is not None:
            await self._publisher
        await self.sink.flush()
        for closer in self._on_close:
            await closer()
        self._server = None
        log.info("signaling node %s stopped", self.core.node)

    async def settled(self) -> None:
        """Wait until every bus event queued so far has been published."""
        await self._outbox.join()

    def http_request(self, ws: ServerConnection, request: Request) -> Response | None:
        """Plain HTTP on the signaling port: ``/metrics`` and ``/livez``; else the upgrade."""
        path = request.path.split("?", 1)[0]
        if path == "/metrics":
            body = generate_latest(REGISTRY)
            return Response(200, "OK", Headers({"Content-Type": CONTENT_TYPE_LATEST}), body)
        if path == "/livez":
            return Response(200, "OK", Headers({"Content-Type": "text/plain"}), b"ok\n")
        return None

    async def __aenter__(self) -> SignalingServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------- feeding

    async def _handle(self, ws: ServerConnection) -> None:
        assert isinstance(ws, CoreConnection)  # serve(create_connection=CoreConnection)
        conn_id = next(self._ids)
        self._sockets[conn_id] = ws
        slot = self._slots[conn_id % len(self._slots)] if self._slots else None
        if slot is not None:
            ws.fast.last_seen = monotonic()
            slot[conn_id] = ws
        CONNECTIONS.inc()
        CONNECTIONS_TOTAL.inc()
        try:
            opened = self.core.connect(conn_id, self._clock(), self._client_address(ws))
            ws.shed_handshake()
            for action in opened:
                if isinstance(action, Close):  # refused by the per-address limits
                    CONNECTIONS_REFUSED.labels(reason=action.reason).inc()
            await self._run(opened)
            # Every message now reaches _on_frame from the transport's callback;
            # this task only waits for the socket to close.
            ws.start(conn_id, self._deliver)
            await ws.closed()
        finally:
            del self._sockets[conn_id]
            if slot is not None:
                slot.pop(conn_id, None)
            CONNECTIONS.dec()
            await self._run(self.core.disconnect(conn_id, self._clock()))

    def _client_address(self, ws: ServerConnection) -> str | None:
        remote = ws.remote_address
        if not remote:
            return None
        peer = str(remote[0])
        forwarded = ws.request.headers.get_all("X-Forwarded-For") if ws.request else []
        return self._proxies.client(peer, ", ".join(forwarded) or None)

    def _on_frame(self, conn_id: int, data: str | bytes) -> None:
        FRAMES.received += 1
        try:
            rest = self._perform(self.core.receive(conn_id, data, self._clock()))
        except Exception:
            # Never let a bug escape into the transport's data_received.
            log.exception("signaling node %s: failed on a frame", self.core.node)
            return
        if rest is not None:
            self._spawn(self._run_after_flush(rest))

    async def _run_after_flush(self, actions: list[Action]) -> None:
        await self.sink.flush()
        await self._run(actions)

    async def _on_bus_event(self, event: BusEvent) -> None:
        await self._run(self.core.remote(event, self._clock()))

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self._tick_interval)
            try:
                self._keepalive(monotonic())
                await self._run(self.core.tick(self._clock()))
            except Exception:
                log.exception("signaling tick failed on node %s", self.core.node)

    def _keepalive(self, now: float) -> None:
        """Ping the sockets of the next slot that were silent for the ping
        interval; close those that stayed silent for the ping timeout after it
        (1011, as websockets does). Browsers send a ``ping`` message every 10 s,
        so they are never pinged here: only sockets that went quiet are."""
        if not self._slots:
            return
        assert self._ping_interval is not None
        self._slot = (self._slot + 1) % len(self._slots)
        for ws in list(self._slots[self._slot].values()):
            if ws.protocol.state is not State.OPEN:
                continue
            fast = ws.fast
            if fast.pinged_at is not None:
                if fast.last_seen < fast.pinged_at:
                    if now - fast.pinged_at >= self._ping_timeout:
                        self._spawn(ws.close(CloseCode.INTERNAL_ERROR, "keepalive ping timeout"))
                    continue
                fast.pinged_at = None
            if now - fast.last_seen >= self._ping_interval:
                ws.protocol.send_ping(b"")
                ws.send_data()
                fast.pinged_at = now

    async def _resync(self) -> None:
        """After the bus came back: reload the shared view, republish ours."""
        assert self.cluster is not None
        for event in self.core.local_seats():
            self._outbox.put_nowait(event)
        try:
            self._perform(self.core.load(await self.cluster.snapshot(), self._clock()))
        except BusError:
            log.warning("signaling node %s: snapshot after reconnect failed", self.core.node)

    # ------------------------------------------------------------ performing

    async def _run(self, actions: list[Action]) -> None:
        rest = self._perform(actions)
        while rest is not None:
            # A call-end was recorded: make it durable before the next actions.
            await self.sink.flush()
            rest = self._perform(rest)

    def _perform(self, actions: Iterable[Action]) -> list[Action] | None:
        """Perform ``actions`` without awaiting; return the remainder after a
        ``call-end`` record, which must be flushed before it runs."""
        pending = list(actions)
        for i, action in enumerate(pending):
            match action:
                case Send(conn=conn, message=message):
                    self._send(conn, serialize(message))
                case SendText(conn=conn, text=text):
                    self._send(conn, text)
                case Close(conn=conn, code=code, reason=reason):
                    ws = self._sockets.get(conn)
                    if ws is not None:
                        self._spawn(ws.close(code, reason))
                case Record(event=event):
                    self.sink.record(event)
                    if event.kind is EventKind.CALL_END:
                        return pending[i + 1 :]
                case Publish(event=event):
                    if self.cluster is not None:
                        self._outbox.put_nowait(event)
        return None

    def _send(self, conn: int, text: str) -> None:
        ws = self._sockets.get(conn)
        if ws is None:
            return
        FRAMES.sent += 1
        transport = ws.transport
        if transport.get_write_buffer_size() > MAX_BUFFERED_BYTES:
            log.warning("signaling node %s: closing a client that stopped reading", self.core.node)
            self._spawn(ws.close(CloseCode.POLICY_VIOLATION, "too slow"))
            return
        if not self._slow.get(conn) and not ws.paused and ws.protocol.state is State.OPEN:
            # Fast path: frame and write synchronously, as ws.send() itself does
            # when the transport is not paused, minus a task and a context
            # switch per relayed frame (the hot path of the server).
            ws.send_text_now(text)
            return
        # The peer is slow (or closing): queue through ws.send(), which waits for
        # the transport to drain. Tasks for one socket run in creation order,
        # and the fast path stays off while any is pending, so order is kept.
        self._slow[conn] = self._slow.get(conn, 0) + 1
        self._spawn(self._send_slowly(conn, ws, text))

    async def _send_slowly(self, conn: int, ws: ServerConnection, text: str) -> None:
        try:
            with contextlib.suppress(ConnectionClosed):
                await ws.send(text)
        finally:
            left = self._slow[conn] - 1
            if left:
                self._slow[conn] = left
            else:
                del self._slow[conn]

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish_loop(self) -> None:
        while True:
            event = await self._outbox.get()
            try:
                if event is None:
                    return
                if self.cluster is not None:
                    await self.cluster.publish(event)
            except Exception:
                # The bus reconnects on its own and we resync then; a lost
                # relay is recovered by the clients (restart-ice).
                log.warning("signaling node %s: publish failed", self.core.node, exc_info=True)
            finally:
                self._outbox.task_done()
