"""Keep WebRTC traffic on loopback: for tests and benchmarks only.

Two tools, both opt-in and never used by the production code paths:

``allow_loopback_candidates()``
    aioice deliberately drops 127.0.0.1 from the host addresses it gathers
    (``aioice.ice.get_host_addresses``), which is right for real calls and
    wrong for a test: inside a loopback-only network namespace it would gather
    no candidate at all. The opt-in swaps that one module-level function for
    one that offers *only* 127.0.0.1, so even if a test ran outside a
    namespace no candidate would name a real interface. aioice looks the
    function up at gathering time, so the swap applies to every peer
    connection created afterwards in this process. Pair it with
    ``RTCConfiguration(iceServers=[])``: aiortc otherwise adds a public STUN
    server.

``NetworkNamespace``
    A private network namespace (``ip netns add mdg-<random>``) with only
    ``lo`` up. Subprocesses started through :meth:`NetworkNamespace.command`
    live in it, and :meth:`NetworkNamespace.run` runs a coroutine on an event
    loop in a thread that joined it (``setns`` is per thread on Linux, and
    threads and processes started from that thread inherit it), so the
    test process itself never leaves the host namespace. Needs root and
    iproute2.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
import secrets
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol, Self, TypeVar

import aioice.ice

log = logging.getLogger(__name__)

T = TypeVar("T")

LOOPBACK_V4 = "127.0.0.1"
_CLONE_NEWNET = 0x40000000
_NETNS_DIR = "/run/netns"


class _HostAddresses(Protocol):
    def __call__(self, use_ipv4: bool, use_ipv6: bool) -> list[str]: ...


_original_get_host_addresses: _HostAddresses | None = None


def _loopback_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    # IPv4 only: one candidate per component keeps checks fast and deterministic.
    return [LOOPBACK_V4] if use_ipv4 else []


def allow_loopback_candidates() -> None:
    """Make aioice gather 127.0.0.1 as its only host candidate (tests only).

    Idempotent. Undo with :func:`restore_host_candidates`.
    """
    global _original_get_host_addresses
    if _original_get_host_addresses is None:
        _original_get_host_addresses = aioice.ice.get_host_addresses
        aioice.ice.get_host_addresses = _loopback_host_addresses
        log.info("aioice host candidates restricted to %s (test/benchmark opt-in)", LOOPBACK_V4)


def restore_host_candidates() -> None:
    """Undo :func:`allow_loopback_candidates`."""
    global _original_get_host_addresses
    if _original_get_host_addresses is not None:
        aioice.ice.get_host_addresses = _original_get_host_addresses
        _original_get_host_addresses = None


def loopback_candidates_allowed() -> bool:
    return _original_get_host_addresses is not None


class NamespaceUnavailable(RuntimeError):
    """Network namespaces cannot be created here; the message says why."""


def namespace_unavailable_reason() -> str | None:
    """Why :class:`NetworkNamespace` cannot work here, or ``None`` if it can."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is not installed"
    if _libc() is None:
        return "libc with setns() not found"
    try:
        with NetworkNamespace.create(prefix="mdg-probe"):
            pass
    except NamespaceUnavailable as exc:
        return str(exc)
    return None


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    libc = ctypes.CDLL(name, use_errno=True)
    return libc if hasattr(libc, "setns") else None


def _ip(*args: str) -> None:
    proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
        ["ip", *args],  # noqa: S607 - iproute2 from PATH, like the test environment
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise NamespaceUnavailable(f"`ip {' '.join(args)}` failed: {proc.stderr.strip()}")


class NetworkNamespace:
    """A private, loopback-only network namespace; delete it when done.

    Use as a context manager, or call :meth:`delete`.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._deleted = False

    @classmethod
    def create(cls, prefix: str = "mdg") -> Self:
        name = f"{prefix}-{secrets.token_hex(4)}"
        _ip("netns", "add", name)
        ns = cls(name)
        try:
            _ip("-n", name, "link", "set", "lo", "up")
        except BaseException:
            ns.delete()
            raise
        log.debug("network namespace %s created", name)
        return ns

    @property
    def path(self) -> str:
        return os.path.join(_NETNS_DIR, self.name)

    def command(self, argv: Sequence[str]) -> list[str]:
        """The argv that runs ``argv`` inside this namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def pids(self) -> list[int]:
        proc = subprocess.run(  # noqa: S603
            ["ip", "netns", "pids", self.name],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        )
        return [int(p) for p in proc.stdout.split() if p.isdigit()]

    def enter_current_thread(self) -> None:
        """Move the calling thread (only) into this namespace."""
        libc = _libc()
        if libc is None:
            raise NamespaceUnavailable("libc with setns() not found")
        fd = os.open(self.path, os.O_RDONLY)
        try:
            if libc.setns(fd, _CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise NamespaceUnavailable(f"setns({self.name}) failed: {os.strerror(err)}")
        finally:
            os.close(fd)

    def run(
        self,
        factory: Callable[[], Coroutine[Any, Any, T]],
        *,
        timeout: float = 120.0,
    ) -> T:
        """Run ``factory()`` on a new event loop in a thread inside this namespace.

        Blocks until it finishes; its exception (or ``TimeoutError`` after
        ``timeout`` seconds) is raised here.
        """
        outcome: list[T] = []
        failure: list[BaseException] = []

        def target() -> None:
            try:
                self.enter_current_thread()
                outcome.append(asyncio.run(asyncio.wait_for(factory(), timeout)))
            except BaseException as exc:
                failure.append(exc)

        thread = threading.Thread(target=target, name=f"netns-{self.name}", daemon=True)
        thread.start()
        # A little beyond the inner timeout: the loop needs time to cancel and close.
        thread.join(timeout + 30.0)
        if thread.is_alive():
            raise TimeoutError(f"coroutine in namespace {self.name} did not stop")
        if failure:
            raise failure[0]
        return outcome[0]

    def delete(self) -> None:
        """Kill what still runs inside (only processes in this private namespace) and delete it."""
        if self._deleted:
            return
        self._deleted = True
        for pid in self.pids():
            if pid == os.getpid():
                continue
            # Everything in a namespace we created was started by us; leftovers
            # would keep the namespace alive.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                log.warning("killed leftover pid %s in namespace %s", pid, self.name)
        try:
            _ip("netns", "del", self.name)
        except NamespaceUnavailable:
            log.warning("could not delete network namespace %s", self.name)
        else:
            log.debug("network namespace %s deleted", self.name)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.delete()
