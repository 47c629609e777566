"""`madoguchi line setup` creates the rich menu on the (stand-in) platform; 窓口の混雑 answers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from line_helpers import CHANNEL_SECRET, TOKEN, post, postback  # type: ignore[import-not-found]
from line_platform import LinePlatform  # type: ignore[import-not-found]
from sqlalchemy.orm import Session

from app.core.clock import FixedClock
from app.core.context import AppContext
from app.counter.settings import CounterSettings
from app.counter.tickets import Tickets
from app.ops import jobs
from scheduler.models import Kiosk

ROOT = Path(__file__).resolve().parents[3]
# The platform does not decode the image; any bytes of a PNG's name do here.
IMAGE = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def run_cli(env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    env.update(PYTHONPATH=str(ROOT), **env_extra)
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_line_setup_creates_uploads_and_sets_the_default_menu(
    line_platform: LinePlatform, tmp_path: Path
) -> None:
    line_platform.reset()
    image = tmp_path / "menu.png"
    image.write_bytes(IMAGE)
    done = run_cli(
        {
            "MADOGUCHI_LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
            "MADOGUCHI_LINE_API_BASE_URL": line_platform.url,
            "MADOGUCHI_LINE_API_DATA_BASE_URL": line_platform.url,
            "MADOGUCHI_LINE_LIFF_ID": "1234567890-AbCdEfGh",
        },
        "line",
        "setup",
        "--image",
        str(image),
    )
    assert done.returncode == 0, done.stderr
    create, upload, default = line_platform.calls()
    assert create["path"] == "/v2/bot/richmenu"
    areas = create["json"]["areas"]
    labels = [a["action"]["label"] for a in areas]
    assert labels == ["予約する", "予約の確認", "申請の状況", "窓口の混雑"]
    assert areas[0]["action"]["uri"] == "https://liff.line.me/1234567890-AbCdEfGh"
    assert [a["action"].get("data") for a in areas[1:]] == [
        "action=bookings",
        "action=applications",
        "action=wait",
    ]
    assert sum(a["bounds"]["width"] for a in areas) <= 2500
    assert upload["path"] == "/v2/bot/richmenu/richmenu-1/content"
    assert upload["headers"]["content-type"] == "image/png" and upload["size"] == len(IMAGE)
    assert default["path"] == "/v2/bot/user/all/richmenu/richmenu-1"
    assert all(c["headers"]["authorization"] == f"Bearer {TOKEN}" for c in line_platform.calls())


def test_line_setup_without_a_token_says_what_to_set(tmp_path: Path) -> None:
    image = tmp_path / "menu.png"
    image.write_bytes(IMAGE)
    done = run_cli({}, "line", "setup", "--image", str(image))
    assert done.returncode == 2
    assert "MADOGUCHI_LINE_CHANNEL_ACCESS_TOKEN" in done.stderr


def test_crowding_answers_with_the_wait_per_branch(
    client: TestClient, ctx: AppContext, clock: FixedClock, city: Any, line: LinePlatform
) -> None:
    with Session(ctx.engine) as s, s.begin():
        kiosk = s.get(Kiosk, city.kiosk_id)
        assert kiosk is not None
        counter = Tickets(s, ctx.tz, CounterSettings.of(ctx.settings))
        for _ in range(2):
            counter.take(kiosk, city.consult_id, clock.now())
    assert post(client, CHANNEL_SECRET, postback(clock.now(), "action=wait")).status_code == 200
    jobs.run_once(ctx, None)
    answer = line.pushes()[-1]["json"]["messages"][0]["text"]
    assert "北支所：2人待ち" in answer and "North Branch: 2 waiting" in answer
