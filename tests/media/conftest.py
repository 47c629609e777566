"""Media tests run inside a private, loopback-only network namespace.

Each test gets a fresh ``ip netns`` namespace (only ``lo`` up): servers and
peer processes start inside it, and in-process peers run on an event loop in
a thread that joined it (``netns.run(...)``). aioice is told to offer
127.0.0.1 (its only candidate) and every peer gets an empty ICE server list,
so no packet can leave the machine. Without namespace support the tests skip,
except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator

import pytest

from media.loopback import (
    NetworkNamespace,
    allow_loopback_candidates,
    namespace_unavailable_reason,
    restore_host_candidates,
)

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def namespaces_supported() -> None:
    reason = namespace_unavailable_reason()
    if reason is not None:
        message = f"media tests need a private network namespace: {reason}"
        if IN_CI:
            pytest.fail(f"{message}; CI=true requires it", pytrace=False)
        pytest.skip(message)


@pytest.fixture
def netns(namespaces_supported: None) -> Iterator[NetworkNamespace]:
    allow_loopback_candidates()
    ns = NetworkNamespace.create()
    try:
        yield ns
    finally:
        ns.delete()
        restore_host_candidates()


@pytest.fixture(scope="session")
def chromium() -> str:
    """The system Chromium for Playwright (scripts/test.sh installs it)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    reason = None
    if path is None:
        reason = "no chromium on PATH"
    elif importlib.util.find_spec("playwright") is None:
        reason = "playwright is not installed"
    if reason is not None:
        if IN_CI:
            pytest.fail(f"browser media tests: {reason}; CI=true requires it", pytrace=False)
        pytest.skip(f"browser media tests: {reason}")
    assert path is not None
    return path
