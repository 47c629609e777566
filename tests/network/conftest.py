"""Calls across a city's networks: resident, DMZ and staff namespaces, real coturn.

The ``city`` fixture (one per test session) is ``city_harness.running_city``:
the network of ``topology.py`` with coturn and ``madoguchi serve`` in its DMZ.
Tests import constants and helpers from ``city_harness``, never from this
file (several test folders have a ``conftest``). Browsers and aiortc peers run in the resident and staff namespaces; each test
sets the client networks' egress policy (``CityNetwork.set_egress``).

Nothing here leaves the namespaces (see ``topology.py`` for the addresses).
Without root, iproute2, nftables, coturn, certutil, Chromium or Playwright the
tests skip with the reason, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from city_harness import CHROMIUM, IN_CI, City, running_city
from coturn_helpers import TURNSERVER

from media.loopback import namespace_unavailable_reason

if TYPE_CHECKING:
    from playwright.sync_api import Playwright


def unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def network_requirements() -> None:
    reason = namespace_unavailable_reason()
    if reason is not None:
        unavailable(f"network tests need private network namespaces: {reason}")
    for tool, package in (
        (TURNSERVER, "coturn"),
        ("nft", "nftables"),
        ("certutil", "libnss3-tools"),
    ):
        if shutil.which(tool) is None:
            unavailable(f"network tests need {tool} (Debian package {package})")


@pytest.fixture(scope="session")
def city(network_requirements: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    with running_city(tmp_path_factory.mktemp("city")) as running:
        yield running


@pytest.fixture(scope="session")
def chromium_path(network_requirements: None) -> str:
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if path is None:
        unavailable("network tests need Debian's chromium (/usr/bin/chromium)")
    if importlib.util.find_spec("playwright") is None:
        unavailable("network tests need playwright (python)")
    assert path is not None
    return path


@pytest.fixture(scope="module")
def playwright(chromium_path: str) -> Iterator[Playwright]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as manager:
        yield manager
