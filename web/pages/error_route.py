"""Route class that turns exceptions into HTML error pages instead of JSON.

Residents and kiosks must never see a JSON error; each area says which of its
pages fits which exception and how to render it. Unexpected errors are logged
with the path template (URLs carry signed tokens) and the stack without the
exception's message, because database errors quote rows that may hold a
resident's name or address.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar, Protocol

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect
from starlette.responses import Response

log = logging.getLogger(__name__)


class ErrorPage(Protocol):
    @property
    def code(self) -> str: ...


class ErrorPageRoute(APIRoute):
    area: ClassVar[str] = "page"

    @staticmethod
    def classify(exc: Exception) -> ErrorPage | None:
        """The page for an error a user can meet; None for a bug."""
        raise NotImplementedError

    @staticmethod
    def server_error() -> ErrorPage:
        raise NotImplementedError

    @staticmethod
    def render_error(request: Request, kind: Any) -> Response:
        raise NotImplementedError

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        path = self.path
        area = self.area

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except ClientDisconnect:
                # The visitor closed the page before their form arrived (a
                # resident giving up in a rush): nobody is left to answer.
                log.info("%s page %s %s: the client left mid-request", area, request.method, path)
                return Response(status_code=400)
            except Exception as exc:
                page = self.classify(exc)
                if page is None:
                    log.error(
                        "%s page %s %s failed with %s\n%s",
                        area,
                        request.method,
                        path,
                        type(exc).__name__,
                        "".join(traceback.format_tb(exc.__traceback__)),
                    )
                    page = self.server_error()
                else:
                    log.info("%s page %s %s: %s", area, request.method, path, page.code)
                return self.render_error(request, page)

        return guarded
