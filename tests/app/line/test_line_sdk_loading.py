"""line-bot-sdk (seconds of import) is loaded only by a city that uses LINE.

Each case runs in a fresh interpreter: the test process itself has imported
the SDK long before (other LINE tests).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

# The web app as `madoguchi serve` builds it, and the jobs' outbox channels.
PROBE = """
import sys
from app.core.context import AppContext
from app.core.settings import Settings
from app.main import create_app
from app.ops.jobs import channels_from

ctx = AppContext.from_settings(Settings())
create_app(ctx)
channels_from(ctx, None)
print(sorted({m.split(".")[0] for m in sys.modules if m.startswith("linebot")}))
"""


def _loaded(tmp_path: Path, **line: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    env.update(
        MADOGUCHI_SECRET_KEY="sdk-loading-test-secret-0123456789abcdef",
        MADOGUCHI_DATABASE_URL=f"sqlite:///{tmp_path / 'madoguchi.db'}",
        **line,
    )
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout.strip().splitlines()[-1]


def test_a_city_without_line_never_imports_the_sdk(tmp_path: Path) -> None:
    assert _loaded(tmp_path) == "[]"


@pytest.mark.parametrize(
    "line",
    [
        {"MADOGUCHI_LINE_CHANNEL_SECRET": "channel-secret"},
        {"MADOGUCHI_LINE_CHANNEL_ACCESS_TOKEN": "channel-token"},
    ],
    ids=["webhook", "outbox"],
)
def test_a_city_with_line_loads_it_at_start_up(tmp_path: Path, line: dict[str, str]) -> None:
    assert _loaded(tmp_path, **line) == "['linebot']"
