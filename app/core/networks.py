"""Staff and admin pages, and the staff JSON API, only from the city's networks.

``StaffNetworkGate`` checks the client address of every request whose path is
under :data:`STAFF_PREFIXES` against a CIDR allow-list
(``MADOGUCHI_STAFF_NETWORKS``). From anywhere else the request is answered as
if the path did not exist: it is handed on with a path nothing serves, so the
reply is the app's own 404 (the error page, or the JSON envelope under
``/api``), the same as for any unknown URL, and tells nothing about what is
there.

The client address is the one uvicorn puts in the ASGI scope: the TCP peer,
or the address a trusted proxy forwarded (``FORWARDED_ALLOW_IPS``), never a
header from anyone else.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

STAFF_PREFIXES = ("/staff", "/admin", "/api/v1/staff", "/api/v1/auth")
_HIDDEN_PAGE = "/.staff-networks-only"
_HIDDEN_API = "/api/v1/.staff-networks-only"

Network = IPv4Network | IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ip_network(v, strict=False) for v in values)


def is_staff_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in STAFF_PREFIXES)


def allowed(networks: tuple[Network, ...], client: str | None) -> bool:
    """Whether ``client`` is inside one of ``networks`` (an empty list allows all)."""
    if not networks:
        return True
    if client is None:
        return False
    try:
        address = ip_address(client)
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


class StaffNetworkGate:
    def __init__(self, app: ASGIApp, networks: Iterable[str]) -> None:
        self.app = app
        self.networks = parse_networks(networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.networks:
            path: str = scope["path"]
            client = scope.get("client")
            host = client[0] if client else None
            if is_staff_path(path) and not allowed(self.networks, host):
                log.debug("staff path refused outside the staff networks")
                hidden = _HIDDEN_API if path.startswith("/api/") else _HIDDEN_PAGE
                scope = {**scope, "path": hidden, "raw_path": hidden.encode()}
        await self.app(scope, receive, send)
