"""Headless Chromium against our aiortc peers, inside the private namespace.

Chromium runs with a fake camera and microphone and
``--allow-loopback-in-peer-connection`` (like aioice, it skips loopback
addresses unless told otherwise). The page is tests/media/browser_peer.html,
served by a small app on the namespace's 127.0.0.1 (a secure context, so
``getUserMedia`` works).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn
from call_harness import SECRET, TIMEOUT, join_token
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from app.core.settings import Settings
from app.signaling_node import start_signaling
from media.client import CallClient
from media.echo import EchoService
from media.http import precheck_router
from media.loopback import NetworkNamespace

if TYPE_CHECKING:
    # Imported lazily below: without Playwright the chromium fixture skips (or fails in CI).
    from playwright.async_api import Page

pytestmark = [pytest.mark.media, pytest.mark.browser]

PAGE = Path(__file__).with_name("browser_peer.html").read_text(encoding="utf-8")
CHROMIUM_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--no-sandbox",  # tests run as root
]


@contextlib.asynccontextmanager
async def web_app(service: EchoService | None = None) -> AsyncIterator[str]:
    """Serve the test page (and the precheck API) on 127.0.0.1; yields the base URL."""
    app = FastAPI()
    if service is not None:
        app.include_router(precheck_router(service))

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


@contextlib.asynccontextmanager
async def browser_page(chromium: str, url: str) -> AsyncIterator[Page]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(url)
            yield page
        finally:
            await browser.close()


def test_browser_precheck_passes(netns: NetworkNamespace, chromium: str) -> None:
    async def scenario() -> None:
        service = EchoService(measure_seconds=2.0)
        async with web_app(service) as url, browser_page(chromium, url) as page:
            result = await asyncio.wait_for(page.evaluate("precheck()"), TIMEOUT)
            report = result["report"]
            assert report["passed"] is True, report
            assert report["measurements"]["round_trip_source"] == "data-channel"
            assert sorted(result["echoed"]) == ["audio", "video"]
            # The browser decodes its own camera coming back.
            await page.wait_for_function("state.framesDecoded > 10", timeout=TIMEOUT * 1000)
            assert service.report(result["check_id"]).passed
        await service.close()

    netns.run(scenario)


def test_browser_staff_restarts_ice_with_python_resident(
    netns: NetworkNamespace, chromium: str
) -> None:
    """Staff in Chromium (the initiator) and a Python resident; the resident's socket
    is cut, it resumes, Chromium sends an ``iceRestart`` offer and the Python side
    answers from a new peer connection (new DTLS fingerprint), which Chromium accepts."""

    async def scenario() -> None:
        room = "bk-media-browser"
        node = await start_signaling(
            Settings(mode="demo", secret_key=SECRET), host="127.0.0.1", port=0, node="n1"
        )
        resident = CallClient(node.url, room=room, token=join_token(room, "resident", "r-1"))
        try:
            await resident.start()
            async with web_app() as url, browser_page(chromium, url) as page:
                staff_token = join_token(room, "staff", "s-1")
                await page.evaluate(
                    f"joinCall({json.dumps(node.url)}, {json.dumps(room)}, {json.dumps(staff_token)})"
                )
                link = await asyncio.wait_for(resident.wait_connected("s-1"), TIMEOUT)
                await asyncio.wait_for(link.wait_media(audio_frames=10), TIMEOUT)
                await page.wait_for_function(
                    "state.connected >= 1 && state.framesDecoded > 10", timeout=TIMEOUT * 1000
                )
                await asyncio.wait_for(link.wait_channel_open(), TIMEOUT)
                link.send("before")
                await page.wait_for_function(
                    "state.messages.includes('before')", timeout=TIMEOUT * 1000
                )

                resident.drop_socket()
                await asyncio.wait_for(resident.wait_until(lambda: resident.resumes >= 1), TIMEOUT)
                link = await asyncio.wait_for(resident.wait_connected("s-1", generation=2), TIMEOUT)
                await asyncio.wait_for(link.wait_media(audio_frames=10), TIMEOUT)
                # Chromium restarted ICE and decodes the new connection's video.
                await page.wait_for_function(
                    "state.restarts >= 1 && state.connected >= 2 && state.framesDecoded > 10",
                    timeout=TIMEOUT * 1000,
                )
                errors = [
                    line for line in await page.evaluate("state.log") if line.startswith("ERROR")
                ]
                assert errors == []
        finally:
            await resident.close()
            await node.close()

    netns.run(scenario)
