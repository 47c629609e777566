"""ICE server configuration (STUN/TURN) for server-side and client peers.

Production passes the city's STUN/TURN servers; tests pass none. aiortc adds a
public Google STUN server when given ``None``, so :func:`rtc_configuration`
always passes an explicit list: empty means empty.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from aiortc import RTCConfiguration, RTCIceServer

_SCHEMES = ("stun:", "stuns:", "turn:", "turns:")


@dataclass(frozen=True, slots=True)
class IceServer:
    """One entry of ``iceServers``; credentials only make sense for TURN."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.urls:
            raise ValueError("an ICE server needs at least one URL")
        for url in self.urls:
            if not url.startswith(_SCHEMES):
                raise ValueError(f"ICE server URL must start with one of {_SCHEMES}: {url!r}")
        if (self.username is None) != (self.credential is None):
            raise ValueError("TURN username and credential go together")

    @classmethod
    def from_url(cls, url: str) -> IceServer:
        return cls(urls=(url,))

    def to_aiortc(self) -> RTCIceServer:
        return RTCIceServer(
            urls=list(self.urls), username=self.username, credential=self.credential
        )

    def to_browser(self) -> dict[str, object]:
        """The shape ``new RTCPeerConnection({iceServers: [...]})`` takes."""
        entry: dict[str, object] = {"urls": list(self.urls)}
        if self.username is not None:
            entry["username"] = self.username
            entry["credential"] = self.credential
        return entry


def as_ice_servers(servers: Iterable[IceServer | str]) -> tuple[IceServer, ...]:
    """Accept plain ``stun:``/``turn:`` URL strings as well as :class:`IceServer`."""
    return tuple(s if isinstance(s, IceServer) else IceServer.from_url(s) for s in servers)


def rtc_configuration(servers: Iterable[IceServer | str] = ()) -> RTCConfiguration:
    """An aiortc configuration with exactly these ICE servers (possibly none)."""
    return RTCConfiguration(iceServers=[s.to_aiortc() for s in as_ice_servers(servers)])
