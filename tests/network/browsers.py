"""Headless Chromium inside one of the city's namespaces, driven by Playwright.

Playwright launches the executable it is given over pipes; a small wrapper
makes that executable ``ip netns exec <ns> chromium``, so one Playwright
driver runs browsers in the resident and the staff network at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from browser_harness import CHROMIUM_ARGS
from city_harness import INTERNAL_URL, PUBLIC_URL, City

from media.loopback import NetworkNamespace

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

# The app is served over plain HTTP inside the namespaces; these origins may
# still use the camera, as the real site on https may.
SECURE_ORIGINS = f"--unsafely-treat-insecure-origin-as-secure={PUBLIC_URL},{INTERNAL_URL}"


def chromium_in(ns: NetworkNamespace, chromium: str, directory: Path) -> str:
    """An executable that runs Chromium inside ``ns`` (Playwright launches it)."""
    wrapper = directory / f"chromium-{ns.name}"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {ns.name} {chromium} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


@contextmanager
def browser_in(
    playwright: Playwright, city: City, ns: NetworkNamespace, chromium: str, tmp: Path
) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=chromium_in(ns, chromium, tmp),
        args=[*CHROMIUM_ARGS, SECURE_ORIGINS],
        headless=True,
        # Chromium on Linux reads trusted roots from $HOME/.pki/nssdb.
        env={"HOME": str(city.home), "PATH": "/usr/bin:/bin"},
    )
    try:
        yield browser
    finally:
        browser.close()
