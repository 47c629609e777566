"""A Python client for madoguchi calls: signaling protocol v1 plus aiortc media.

Used by the tests and benchmarks; usable by integrators (a kiosk probe, a
recording bot, a load test). It joins a room through the signaling server
(docs/signaling.md) with a join token, and for each other participant keeps a
:class:`~media.peerlink.PeerLink` (an ``RTCPeerConnection`` with synthetic or
given audio and video plus a data channel). It follows the protocol's roles:

* it offers to a peer when the server says it is the initiator (``initiator``
  in ``joined``/``peer-joined``, ``peer-resumed`` with ``initiator: true``, or
  a ``restart-ice`` naming that peer), and answers offers otherwise;
* aiortc gathers all candidates before returning a description, so the SDP it
  sends carries them and it trickles nothing; trickled candidates *from*
  browsers are applied (``candidate_from_sdp`` + ``addIceCandidate``);
* every offer carries a negotiation id that its answer echoes, so a stale
  answer or a superseded offer is ignored (see :mod:`media.peerlink`);
* it sends ``connected`` when a peer connection connects, and ``restart-ice``
  when one fails;
* when its socket drops (anything but a 4xxx/1008/1009/1000 close), it
  reconnects with back-off (0.5 s doubling to 8 s, with jitter), trying the
  next of its signaling URLs each time, and joins with ``resume`` = the
  session id from the last ``joined``. The server then arranges an ICE
  restart, which :mod:`media.peerlink` performs by renegotiating from a new
  ``RTCPeerConnection`` (aiortc 1.16 has no ICE restart).

Example::

    client = CallClient(["ws://127.0.0.1:8765/ws"], room=room, token=token)
    await client.start()
    link = await asyncio.wait_for(client.wait_connected(), 20)
    link.send("hello")
    ...
    await client.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from aiortc import RTCPeerConnection
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from media.errors import ClientError, SignalingRefused
from media.ice import IceServer, rtc_configuration
from media.peerlink import LinkStats, PeerLink
from media.synthetic import SineToneAudioTrack, TestPatternVideoTrack
from signaling.errors import ProtocolError
from signaling.messages import (
    Answer,
    Candidate,
    ClientMessage,
    Connected,
    Consent,
    ConsentPurpose,
    ConsentRequest,
    Document,
    End,
    Ended,
    Error,
    Join,
    Joined,
    Leave,
    Message,
    Offer,
    PeerInfo,
    PeerJoined,
    PeerLeft,
    PeerReconnecting,
    PeerResumed,
    PeerStatus,
    RestartIce,
    Role,
    RoomState,
    RoomStateChanged,
    Source,
    Transfer,
    TransferMode,
    parse,
    serialize,
)

log = logging.getLogger(__name__)

BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 8.0


def is_terminal_close(code: int | None) -> bool:
    """docs/signaling.md: 4xxx, 1008 and 1009 mean "do not reconnect"; 1000 follows ``leave``."""
    return code is not None and (4000 <= code <= 4999 or code in (1000, 1008, 1009))


@dataclass(frozen=True, slots=True)
class ClientStats:
    joins: int  # successful `joined` frames, the first one included
    resumes: int  # of which `resumed: true`
    socket_drops: int
    links: tuple[LinkStats, ...]

    @property
    def video_frames(self) -> int:
        return sum(link.video_frames for link in self.links)

    @property
    def audio_packets(self) -> int:
        return sum(link.audio_packets for link in self.links)

    @property
    def round_trips(self) -> int:
        return sum(link.round_trips for link in self.links)


class CallClient:
    """One participant: a signaling connection (with resume) and its peer links."""

    def __init__(
        self,
        urls: str | Sequence[str],
        *,
        room: str,
        token: str,
        role: Role | None = None,
        ice_servers: Iterable[IceServer | str] = (),
        video: MediaStreamTrack | bool = True,
        audio: MediaStreamTrack | bool = True,
        reconnect: bool = True,
        open_timeout: float = 10.0,
    ) -> None:
        self.urls = [urls] if isinstance(urls, str) else list(urls)
        if not self.urls:
            raise ValueError("at least one signaling URL is needed")
        self.room = room
        self._token = token
        self.role = role
        self._ice_servers = tuple(ice_servers)
        self.reconnect = reconnect
        self.open_timeout = open_timeout
        self._sources: list[MediaStreamTrack] = []
        if audio is not False:
            self._sources.append(SineToneAudioTrack() if audio is True else audio)
        if video is not False:
            self._sources.append(TestPatternVideoTrack() if video is True else video)
        self._relay = MediaRelay()
        self.session: str | None = None
        self.you_id: str | None = None
        self.state: RoomState | None = None
        self.peers: dict[str, PeerInfo] = {}
        self.links: dict[str, PeerLink] = {}
        self.url: str | None = None  # the signaling URL currently in use
        self.ended = False
        self.refused: SignalingRefused | None = None
        self.errors: list[Error] = []
        self.transfers: list[Transfer] = []  # hand-over notices received (with `by`)
        # Documents at the counter, as received (each with `from_`).
        self.consent_requests: list[ConsentRequest] = []
        self.consents: list[Consent] = []
        self.documents: list[Document] = []
        self._joins = 0
        self._resumes = 0
        self._drops = 0
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._changed = asyncio.Event()
        self._joined = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Connect and join; raises :class:`SignalingRefused` if the join is refused."""
        if self._task is not None:
            raise ClientError("already started")
        self._task = asyncio.create_task(self._run(), name=f"call-client-{self.room}")
        joined = asyncio.ensure_future(self._joined.wait())
        done, _ = await asyncio.wait({joined, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if joined not in done:
            joined.cancel()
            if self.refused is not None:
                raise self.refused
            self._task.result()  # re-raises what stopped the loop, if anything
            raise ClientError("the signaling connection closed before joining")

    async def leave(self) -> None:
        """Hang up: ``leave`` (seat released at once), then close."""
        await self._send(Leave())
        await self.close()

    async def end(self) -> None:
        """Staff only: end the call for everyone."""
        await self._send(End())

    async def transfer(
        self, mode: TransferMode, *, target: str | None = None, department: str | None = None
    ) -> None:
        """Staff only: announce a hand-over (then, for a cold one, :meth:`leave`)."""
        await self._send(Transfer(mode=mode, target=target, department=department))

    async def close(self) -> None:
        self._stopping = True
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for link in list(self.links.values()):
            await link.close()
        self.links.clear()
        for source in self._sources:
            source.stop()
        self._changed.set()

    def drop_socket(self) -> None:
        """Cut the signaling socket without a closing handshake (Wi-Fi gone)."""
        ws = self._ws
        if ws is not None:
            log.info("room %s: dropping the signaling socket on purpose", self.room)
            ws.transport.abort()

    @property
    def resumes(self) -> int:
        """How many times this client resumed its seat after a socket drop."""
        return self._resumes

    async def ask_consent(self, peer: str, purpose: ConsentPurpose = ConsentPurpose.PHOTO) -> None:
        """Staff only: ask the visitor ``peer`` for on-screen consent."""
        await self._send(ConsentRequest(purpose=purpose, to=peer))

    async def answer_consent(self, peer: str, purpose: ConsentPurpose, granted: bool) -> None:
        """Visitor only: answer the staff member ``peer``."""
        await self._send(Consent(purpose=purpose, granted=granted, to=peer))

    async def push_document(self, url: str, name: str) -> None:
        """Staff only: show a stored document (its signed ``url``) on the others' screens."""
        await self._send(Document(url=url, name=name))

    # -- waiting ---------------------------------------------------------------------

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds after some change; bound it with a timeout."""
        while not predicate():
            if self._task is not None and self._task.done() and not self._stopping:
                raise ClientError("the client stopped") from self._task.exception()
            self._changed.clear()
            await self._changed.wait()

    async def wait_link(self, peer: str | None = None) -> PeerLink:
        def ready() -> bool:
            return self._link_for(peer) is not None

        await self.wait_until(ready)
        link = self._link_for(peer)
        assert link is not None
        return link

    async def wait_connected(self, peer: str | None = None, *, generation: int = 0) -> PeerLink:
        """The link to ``peer`` (or the only one) once connected at ``generation`` or later."""

        def ready() -> bool:
            link = self._link_for(peer)
            return link is not None and link.connected.is_set() and link.generation >= generation

        await self.wait_until(ready)
        link = self._link_for(peer)
        assert link is not None
        return link

    def _link_for(self, peer: str | None) -> PeerLink | None:
        if peer is not None:
            return self.links.get(peer)
        return next(iter(self.links.values()), None)

    async def stats(self) -> ClientStats:
        return ClientStats(
            joins=self._joins,
            resumes=self._resumes,
            socket_drops=self._drops,
            links=tuple([await link.stats() for link in self.links.values()]),
        )

    # -- the signaling connection -------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        index = 0
        while not self._stopping:
            url = self.urls[index % len(self.urls)]
            code: int | None = None
            try:
                code = await self._session(url)
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                log.info("room %s: cannot reach signaling (%s)", self.room, type(exc).__name__)
            except InvalidURI:
                raise
            finally:
                self._ws = None
            if self._stopping or self.ended or self.refused is not None:
                break
            if is_terminal_close(code) or not self.reconnect:
                log.info("room %s: signaling closed with %s; not reconnecting", self.room, code)
                break
            if code is not None:
                self._drops += 1
                if self._joined.is_set():
                    attempt = 0
            delay = min(BACKOFF_MAX, BACKOFF_INITIAL * 2**attempt)
            attempt += 1
            # Try the next node: the one we were on may be the one that died.
            index += 1
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
        self._changed.set()

    async def _session(self, url: str) -> int | None:
        # proxy=None: never route signaling through an HTTP proxy from the environment.
        async with connect(url, open_timeout=self.open_timeout, proxy=None, max_size=2**20) as ws:
            self._ws = ws
            self.url = url
            await self._send(
                Join(token=self._token, room=self.room, role=self.role, resume=self.session)
            )
            try:
                async for frame in ws:
                    if not isinstance(frame, str):
                        continue
                    try:
                        message = parse(frame, Source.SERVER)
                    except ProtocolError as exc:
                        log.warning("room %s: unreadable server frame (%s)", self.room, exc.code)
                        continue
                    try:
                        await self._handle(message)
                    except (ConnectionClosed, asyncio.CancelledError):
                        raise
                    except Exception:
                        # A peer's unusable SDP or candidate must not end our
                        # session; the peer can ask for a restart.
                        log.exception("room %s: handling %s failed", self.room, message.type)
                    self._changed.set()
            except ConnectionClosed:
                pass
            return ws.close_code if ws.close_code is not None else 1006

    async def _send(self, message: ClientMessage) -> None:
        ws = self._ws
        if ws is None:
            log.debug("room %s: %s not sent, signaling is down", self.room, message.type)
            return
        with contextlib.suppress(ConnectionClosed):
            await ws.send(serialize(message))

    # -- protocol -------------------------------------------------------------------

    async def _handle(self, message: Message) -> None:
        match message:
            case Joined():
                await self._on_joined(message)
            case PeerJoined(peer=peer):
                self.peers[peer.id] = peer
                old = self.links.pop(peer.id, None)
                if old is not None:
                    await old.close()
                if peer.initiator:
                    await self._offer(peer.id)
            case PeerLeft(peer=peer_id):
                self.peers.pop(peer_id, None)
                link = self.links.pop(peer_id, None)
                if link is not None:
                    await link.close()
            case PeerReconnecting(peer=peer_id):
                self._set_status(peer_id, PeerStatus.RECONNECTING)
            case PeerResumed(peer=peer_id, initiator=initiator):
                self._set_status(peer_id, PeerStatus.PRESENT)
                if initiator:
                    await self._offer(peer_id)
            case RestartIce(peer=peer_id) if peer_id is not None:
                await self._offer(peer_id)
            case Offer(from_=peer_id, sdp=sdp, negotiation=negotiation) if peer_id is not None:
                link = self._link(peer_id, initiator=False)
                answer = await link.accept_offer(sdp, negotiation)
                if answer is not None:
                    await self._send(Answer(to=peer_id, sdp=answer, negotiation=negotiation))
            case Answer(from_=peer_id, sdp=sdp, negotiation=negotiation) if peer_id is not None:
                if peer_id in self.links:
                    await self.links[peer_id].accept_answer(sdp, negotiation)
            case Candidate(from_=peer_id, candidate=candidate) if peer_id is not None:
                if peer_id in self.links:
                    await self.links[peer_id].add_candidate(candidate)
            case RoomStateChanged(state=state):
                self.state = state
            case Ended():
                log.info("room %s: ended by staff", self.room)
                self.ended = True
                self.state = RoomState.ENDED
                for link in list(self.links.values()):
                    await link.close()
                self.links.clear()
            case Transfer():
                self.transfers.append(message)
            case ConsentRequest():
                self.consent_requests.append(message)
            case Consent():
                self.consents.append(message)
            case Document():
                self.documents.append(message)
            case Error():
                self.errors.append(message)
                log.info("room %s: server error %s (ref %s)", self.room, message.code, message.ref)
                if not self._joined.is_set() or message.ref == "join":
                    self.refused = SignalingRefused(str(message.code), message.message)
            case _:
                pass

    async def _on_joined(self, message: Joined) -> None:
        self.session = message.session
        self.you_id = message.you.id
        self.state = message.state
        self._joins += 1
        present = {p.id: p for p in message.peers}
        self.peers = dict(present)
        for peer_id in list(self.links):
            # A fresh (not resumed) session starts every link anew.
            if peer_id not in present or not message.resumed:
                await self.links.pop(peer_id).close()
        if message.resumed:
            self._resumes += 1
            log.info("room %s: resumed on %s", self.room, self.url)
        self._joined.set()
        if message.resumed:
            # The server sends `restart-ice` for peers we initiate towards.
            return
        for peer in message.peers:
            if peer.initiator and peer.status is PeerStatus.PRESENT:
                await self._offer(peer.id)

    def _set_status(self, peer_id: str, status: PeerStatus) -> None:
        peer = self.peers.get(peer_id)
        if peer is not None:
            self.peers[peer_id] = PeerInfo(
                id=peer.id, role=peer.role, name=peer.name, status=status, initiator=peer.initiator
            )

    def _link(self, peer_id: str, *, initiator: bool) -> PeerLink:
        link = self.links.get(peer_id)
        if link is None:
            link = PeerLink(
                peer_id,
                initiator=initiator,
                make_pc=lambda: RTCPeerConnection(rtc_configuration(self._ice_servers)),
                relay=self._relay,
                sources=self._sources,
                on_connected=self._on_link_connected,
                on_failed=self._on_link_failed,
            )
            self.links[peer_id] = link
        return link

    async def _offer(self, peer_id: str) -> None:
        link = self._link(peer_id, initiator=True)
        link.initiator = True
        sdp = await link.create_offer()
        await self._send(Offer(to=peer_id, sdp=sdp, negotiation=link.offer_negotiation))

    async def _on_link_connected(self, link: PeerLink) -> None:
        log.info("room %s: media connected (generation %d)", self.room, link.generation)
        await self._send(Connected(peer=link.peer))
        self._changed.set()

    async def _on_link_failed(self, link: PeerLink) -> None:
        log.info("room %s: media failed; asking for an ICE restart", self.room)
        await self._send(RestartIce(peer=link.peer))
        self._changed.set()
