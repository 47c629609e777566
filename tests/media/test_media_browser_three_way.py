"""The real call modules (web/static/js/call/) in Chromium with two aiortc peers.

The page is tests/media/browser_call_page.html: the call stage's markup driven
by ``CallSession`` and ``CallView`` as the resident's page uses them, served
with web/static on the namespace's 127.0.0.1. Staff and an interpreter are
Python peers (``media.client.CallClient``), so the browser must show and
decode two remote videos at once, then drop the tile of the one who leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn
from call_harness import SECRET, TIMEOUT, join_token
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from test_media_browser import browser_page

from app.core.settings import Settings
from app.core.tokens import Purpose, Tokens
from app.signaling_node import start_signaling
from media.client import CallClient
from media.loopback import NetworkNamespace
from signaling.messages import Consent, ConsentPurpose, TransferMode

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = [pytest.mark.media, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
PAGE = Path(__file__).with_name("browser_call_page.html").read_text(encoding="utf-8")
ROOM = "bk-media-browser-3way"


@contextlib.asynccontextmanager
async def call_page_app() -> AsyncIterator[str]:
    app = FastAPI()
    app.mount("/static", StaticFiles(directory=ROOT / "web" / "static"), name="static")

    @app.get("/")
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE)

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:  # uvicorn exposes no start event to await
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def frames_above(page: Page, peers: list[str], minimum: int) -> None:
    condition = " && ".join(f"(remoteFrames()[{json.dumps(p)}] || 0) > {minimum}" for p in peers)
    await page.wait_for_function(condition, timeout=TIMEOUT * 1000)


def test_browser_call_page_shows_and_decodes_two_remote_videos(
    netns: NetworkNamespace, chromium: str
) -> None:
    async def scenario() -> None:
        node = await start_signaling(
            Settings(mode="demo", secret_key=SECRET), host="127.0.0.1", port=0, node="n1"
        )
        staff = CallClient(node.url, room=ROOM, token=join_token(ROOM, "staff", "s-1"))
        interpreter = CallClient(node.url, room=ROOM, token=join_token(ROOM, "interpreter", "i-1"))
        try:
            async with call_page_app() as url, browser_page(chromium, url) as page:
                await page.wait_for_function("window.ready === true", timeout=TIMEOUT * 1000)
                token = join_token(ROOM, "resident", "r-1")
                await page.evaluate(
                    f"joinCall({json.dumps(node.url)}, {json.dumps(ROOM)}, {json.dumps(token)})"
                )
                await staff.start()
                await interpreter.start()
                for client in (staff, interpreter):
                    link = await asyncio.wait_for(client.wait_connected("r-1"), TIMEOUT)
                    # The browser's fake camera reaches each Python peer.
                    await asyncio.wait_for(link.wait_media(audio_frames=10), TIMEOUT)
                await frames_above(page, ["s-1", "i-1"], 10)
                assert await page.evaluate("madoguchiCall.remoteVideos") == 2
                assert await page.evaluate("madoguchiCall.state") == "in-call"
                tiles = await page.evaluate(
                    "[...document.querySelectorAll('#remote-others figcaption')]"
                    ".map(c => c.textContent)"
                )
                assert len(tiles) == 1 and tiles[0] in ("test staff", "test interpreter")

                # A hand-over notice shows the banner; the page stays in the call.
                await staff.transfer(TransferMode.WARM, target="s-2")
                await page.wait_for_function(
                    "!document.getElementById('banner-transfer').hidden",
                    timeout=TIMEOUT * 1000,
                )

                # The staff member leaves: the interpreter's video takes the main slot.
                await staff.leave()
                await page.wait_for_function(
                    "madoguchiCall.remoteVideos === 1", timeout=TIMEOUT * 1000
                )
                main = await page.evaluate("document.getElementById('remote-video').dataset.peer")
                assert main == "i-1"
                before = (await page.evaluate("remoteFrames()"))["i-1"]
                await frames_above(page, ["i-1"], before + 10)
                assert await page.evaluate("madoguchiCall.state") == "in-call"
        finally:
            await interpreter.close()
            await staff.close()
            await node.close()

    netns.run(scenario)


@pytest.mark.parametrize("granted", [True, False])
def test_browser_resident_answers_photo_consent_and_sees_a_pushed_document(
    netns: NetworkNamespace, chromium: str, granted: bool
) -> None:
    async def scenario() -> None:
        node = await start_signaling(
            Settings(mode="demo", secret_key=SECRET), host="127.0.0.1", port=0, node="n1"
        )
        staff = CallClient(node.url, room=ROOM, token=join_token(ROOM, "staff", "s-1"))
        try:
            async with call_page_app() as url, browser_page(chromium, url) as page:
                await page.wait_for_function("window.ready === true", timeout=TIMEOUT * 1000)
                token = join_token(ROOM, "resident", "r-1")
                await page.evaluate(
                    f"joinCall({json.dumps(node.url)}, {json.dumps(ROOM)}, {json.dumps(token)})"
                )
                await staff.start()
                await asyncio.wait_for(staff.wait_connected("r-1"), TIMEOUT)
                assert await page.is_hidden("#consent-box")

                await staff.ask_consent("r-1", ConsentPurpose.PHOTO)
                await page.wait_for_selector(
                    "#consent-box", state="visible", timeout=TIMEOUT * 1000
                )
                await page.click("#btn-consent-yes" if granted else "#btn-consent-no")
                await asyncio.wait_for(staff.wait_until(lambda: bool(staff.consents)), TIMEOUT)
                assert staff.consents == [
                    Consent(purpose=ConsentPurpose.PHOTO, granted=granted, from_="r-1")
                ]
                assert await page.is_hidden("#consent-box")

                # The node only relays links carrying a document token the app signed.
                document = Tokens(SECRET).issue(
                    Purpose.DOCUMENT, {"d": 1}, expires=datetime.now(UTC) + timedelta(hours=1)
                )
                await staff.push_document(f"/api/v1/documents/{document}", "転入届.pdf")
                await page.wait_for_selector("#documents", state="visible", timeout=TIMEOUT * 1000)
                link = page.locator("#document-list a")
                assert await link.text_content() == "転入届.pdf"
                assert await link.get_attribute("href") == f"/api/v1/documents/{document}"
        finally:
            await staff.close()
            await node.close()

    netns.run(scenario)
