"""ErrorPageRoute: a visitor who leaves mid-request is not a server error."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi import FastAPI, Request
from starlette.responses import PlainTextResponse, Response

from web.pages.error_route import ErrorPageRoute


class _Page:
    code = "broken"


class _Route(ErrorPageRoute):
    area = "test"

    @staticmethod
    def classify(exc: Exception) -> _Page | None:
        return None

    @staticmethod
    def server_error() -> _Page:
        return _Page()

    @staticmethod
    def render_error(request: Request, kind: Any) -> Response:
        return PlainTextResponse(kind.code, status_code=500)


def _app() -> FastAPI:
    app = FastAPI()
    app.router.route_class = _Route

    @app.post("/form")
    async def form(request: Request) -> PlainTextResponse:
        body = await request.body()
        return PlainTextResponse(f"got {len(body)}")

    @app.post("/bug")
    async def bug() -> PlainTextResponse:
        raise RuntimeError("a bug")

    return app


async def _post(app: FastAPI, path: str, events: list[dict[str, Any]]) -> int:
    """One POST straight through ASGI; the client's side is ``events``."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return events.pop(0) if events else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status: int = sent[0]["status"]
    return status


async def test_a_client_leaving_before_its_form_arrives_is_logged_as_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="web.pages.error_route")
    status = await _post(_app(), "/form", [{"type": "http.disconnect"}])
    assert status == 400
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert "left mid-request" in caplog.records[0].getMessage()


async def test_a_whole_form_is_answered_and_a_bug_is_still_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="web.pages.error_route")
    body = {"type": "http.request", "body": b"a=1", "more_body": False}
    assert await _post(_app(), "/form", [body]) == 200
    assert caplog.records == []
    assert await _post(_app(), "/bug", []) == 500
    assert [r.levelno for r in caplog.records] == [logging.ERROR]
