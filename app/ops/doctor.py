"""``madoguchi doctor``: can this network reach the API, signaling and TURN?

Run on a staff terminal's network or on a kiosk, it tries each thing a call
needs, the way the browser would, and reports one line per check:

* the API (``GET /healthz``) and the call configuration (``/api/v1/rtc-config``);
* signaling: a WebSocket opened to the URL the app hands out;
* TURN over UDP, TCP and TLS, for each TURN URL: an allocation with the
  per-call credentials of a join token (``--token``), or, without one, an
  unauthenticated request whose "401 Unauthorized" proves the server answers
  over that transport (credentials then remain unchecked).

Every failure names what was tried and what to ask the network team for.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from aioice.stun import TransactionFailed, TransactionTimeout
from aioice.turn import create_turn_endpoint
from aiortc.rtcicetransport import parse_stun_turn_uri
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

# Any credentials will do to learn whether a TURN server answers: it refuses them.
_PROBE_USER = "madoguchi-doctor"
_PROBE_PASSWORD = "not-a-credential"  # noqa: S105
_CLOSE_GRACE_SECONDS = 0.2


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'OK  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


@dataclass(frozen=True)
class TurnTarget:
    url: str
    host: str
    port: int
    transport: str  # "udp" | "tcp"
    tls: bool

    @classmethod
    def parse(cls, url: str) -> TurnTarget:
        parts = parse_stun_turn_uri(url)
        if parts["scheme"] not in ("turn", "turns"):
            raise ValueError(f"not a TURN URL: {url}")
        return cls(
            url, parts["host"], parts["port"], parts["transport"], parts["scheme"] == "turns"
        )

    @property
    def label(self) -> str:
        kind = "TLS" if self.tls else self.transport.upper()
        return f"TURN over {kind} ({self.host}:{self.port})"

    @property
    def blocked_hint(self) -> str:
        proto = "TCP" if self.tls else self.transport.upper()
        return f"ask the network team to allow {proto} {self.port} to {self.host}"


class _Sink(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.closed = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def _allocate(
    target: TurnTarget, username: str, password: str, context: ssl.SSLContext, seconds: float
) -> None:
    async def attempt() -> None:
        endpoint, sink = await create_turn_endpoint(
            _Sink,
            server_addr=(target.host, target.port),
            username=username,
            password=password,
            ssl=context if target.tls else None,
            transport=target.transport,
        )
        endpoint.close()  # frees the allocation at once
        await sink.closed

    await asyncio.wait_for(attempt(), seconds)


async def check_turn(
    target: TurnTarget,
    credentials: tuple[str, str] | None,
    *,
    context: ssl.SSLContext,
    seconds: float,
) -> Check:
    username, password = credentials or (_PROBE_USER, _PROBE_PASSWORD)
    try:
        await _allocate(target, username, password, context, seconds)
    except TransactionFailed as exc:
        code = exc.response.attributes.get("ERROR-CODE", (0, ""))[0]
        if code == 401 and credentials is None:
            return Check(
                target.label,
                True,
                "answers (credentials not checked: pass --token with a join token to check them)",
            )
        if code == 401:
            return Check(
                target.label,
                False,
                "the TURN server refused the call's credentials: MADOGUCHI_TURN_SECRET must equal "
                "coturn's static-auth-secret, and both servers' clocks must be right",
            )
        return Check(target.label, False, f"the TURN server answered an error ({exc})")
    except ssl.SSLCertVerificationError as exc:
        return Check(
            target.label,
            False,
            f"the TLS certificate is not trusted here ({exc.verify_message}): install the "
            "issuing CA on this terminal, or give coturn a certificate from a trusted CA",
        )
    except (TimeoutError, TransactionTimeout):
        return Check(target.label, False, f"no answer within {seconds:g} s: {target.blocked_hint}")
    except OSError as exc:
        return Check(
            target.label,
            False,
            f"cannot connect ({exc.strerror or exc}): {target.blocked_hint}",
        )
    if credentials is None:
        return Check(target.label, True, "relay allocated")
    return Check(target.label, True, "relay allocated with the call's credentials")


async def check_signaling(url: str, seconds: float, context: ssl.SSLContext) -> Check:
    tls = context if url.startswith("wss:") else None
    try:
        # Through the proxy the environment names, as the browser would.
        async with connect(url, open_timeout=seconds, ssl=tls):
            pass
    except (OSError, TimeoutError) as exc:
        return Check(
            "signaling",
            False,
            f"cannot open the WebSocket {url} ({exc}): WebSocket upgrades must pass the proxy "
            "and the firewall",
        )
    except WebSocketException as exc:  # a refused upgrade, a bad URL
        return Check("signaling", False, f"the WebSocket {url} was refused ({exc})")
    return Check("signaling", True, f"WebSocket {url} opens")


async def run_doctor(
    base_url: str,
    *,
    token: str | None = None,
    turn_urls: Sequence[str] = (),
    ca_file: str | None = None,
    seconds: float = 5.0,
) -> list[Check]:
    """Every check (each within ``seconds``), in order; a failed API check skips
    those that need its answer."""
    base = base_url.rstrip("/")
    context = _context(ca_file)
    checks: list[Check] = []
    rtc: dict[str, Any] | None = None
    async with httpx.AsyncClient(timeout=seconds, verify=context) as http:
        try:
            health = await http.get(f"{base}/healthz")
            query = "?" + urlencode({"token": token}) if token else ""
            config = await http.get(f"{base}/api/v1/rtc-config{query}")
        except httpx.HTTPError as exc:
            checks.append(
                Check("API", False, f"{base} is not reachable ({exc!r}): allow HTTPS to it")
            )
        else:
            if health.status_code != 200 or config.status_code != 200:
                status = health.status_code if health.status_code != 200 else config.status_code
                checks.append(Check("API", False, f"{base} answered HTTP {status}"))
            else:
                checks.append(Check("API", True, f"{base} answers"))
                rtc = config.json()
    if rtc is None:
        checks.append(Check("signaling", False, "not checked: the API gave no signaling URL"))
    else:
        checks.append(await check_signaling(str(rtc["signalingUrl"]), seconds, context))

    targets: list[tuple[TurnTarget, tuple[str, str] | None]] = []
    for server in (rtc or {}).get("iceServers", []):
        if "username" in server:
            creds = (str(server["username"]), str(server["credential"]))
            targets += [
                (TurnTarget.parse(u), creds) for u in server["urls"] if u.startswith("turn")
            ]
    if not targets:
        targets = [(TurnTarget.parse(u), None) for u in turn_urls]
    if not targets:
        checks.append(
            Check("TURN", False, "no TURN URL to check: pass --token, or --turn-url for each URL")
        )
    for target, given in targets:
        checks.append(await check_turn(target, given, context=context, seconds=seconds))
    # aioice closes a refused connection without waiting for it: let a TLS
    # shutdown finish before the caller's event loop stops.
    await asyncio.sleep(_CLOSE_GRACE_SECONDS)
    return checks


def _context(ca_file: str | None) -> ssl.SSLContext:
    """The system's trusted CAs, plus the city's own if given."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context
