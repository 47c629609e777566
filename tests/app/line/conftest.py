"""The LINE tests' stand-in platform (a real process) and a city configured for LINE."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from line_helpers import CHANNEL_SECRET, TOKEN  # type: ignore[import-not-found]
from line_platform import LinePlatform  # type: ignore[import-not-found]

from app.core.context import AppContext


@pytest.fixture(scope="session")
def line_platform() -> Iterator[LinePlatform]:
    platform = LinePlatform(TOKEN)
    try:
        yield platform
    finally:
        platform.close()


@pytest.fixture
def line(line_platform: LinePlatform, ctx: AppContext) -> LinePlatform:
    """The platform, emptied, and ``ctx`` pointed at it."""
    line_platform.reset()
    ctx.settings = ctx.settings.model_copy(
        update={
            "line_channel_secret": CHANNEL_SECRET,
            "line_channel_access_token": TOKEN,
            "line_api_base_url": line_platform.url,
            "line_api_data_base_url": line_platform.url,
        }
    )
    return line_platform
