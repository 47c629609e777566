"""The one error envelope of every JSON answer, and the handlers every app needs.

Every error body has the same shape::

    {"error": {"code": "slot-unavailable", "message": "…", "fields": [...]}}

``code`` is stable for programs; ``message`` is for people. Domain errors are
mapped to statuses by ``app.api.errors``; this module knows only the
foundation's own errors (bad input, links, rate limits, unknown addresses).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.core.db import DatabaseBusy, is_busy
from app.core.deps import get_locale
from app.core.i18n import gettext
from app.core.ratelimit import RateLimited
from app.core.tokens import TokenError, TokenExpired, TokenNotYetValid

log = logging.getLogger(__name__)


def request_locale(request: Request) -> str:
    return get_locale(
        request.query_params.get("lang"),
        request.cookies.get("lang"),
        request.headers.get("accept-language"),
    )


def error_body(
    code: str, message: str, fields: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


def _field_label(locale: str, loc: tuple[Any, ...]) -> tuple[str, str]:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    name = parts[-1] if parts else "request"
    name = {"service_id": "service", "kiosk_id": "kiosk"}.get(name, name)
    return ".".join(parts) or name, gettext(locale, name)


def _validation_message(locale: str, err: dict[str, Any]) -> str:
    _, label = _field_label(locale, tuple(err.get("loc", ())))
    kind = str(err.get("type", ""))
    if kind == "missing":
        return gettext(locale, "{field} is required.", field=label)
    if kind in ("string_too_long", "too_long"):
        return gettext(locale, "{field} is too long.", field=label)
    if kind.startswith("date_") and "datetime" not in kind:
        return gettext(locale, "{field} must be a date like 2026-12-03.", field=label)
    if kind.startswith(("datetime_", "timezone_")):
        return gettext(
            locale,
            "{field} must be a date and time with a UTC offset, like 2026-12-03T14:00:00+09:00.",
            field=label,
        )
    if kind in ("enum", "literal_error"):
        choices = str(err.get("ctx", {}).get("expected", ""))
        return gettext(locale, "{field} must be one of: {choices}.", field=label, choices=choices)
    if kind == "string_pattern_mismatch" and label in ("email", gettext(locale, "email")):
        return gettext(locale, "{field} must be an email address.", field=label)
    return gettext(locale, "{field} is not valid.", field=label)


# The framework's own refusals (unknown address, wrong method, unreadable body),
# as stable codes and messages for the error envelope.
_HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad-request", "The request could not be read."),
    401: ("not-logged-in", "Please log in."),
    403: ("forbidden", "You are not allowed to do this."),
    404: ("not-found", "Not found."),
    405: ("method-not-allowed", "This method is not allowed here."),
    413: ("too-large", "The request is too large."),
    415: ("unsupported-media-type", "This kind of content cannot be used here."),
}

# Seconds a client should wait before retrying after a 503 (busy database).
BUSY_RETRY_AFTER = 1


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route serves at ``path``.

    Starlette's 405 names only the first route that matched the path; FastAPI
    makes one route per operation, so the others' methods went missing.
    """
    found = []
    for method in _METHODS:
        scope = {"type": "http", "path": path, "method": method, "root_path": "", "app": app}
        if any(route.matches(scope)[0] == Match.FULL for route in app.router.routes):
            found.append(method)
    return found


def busy_response(request: Request) -> JSONResponse:
    return JSONResponse(
        error_body(
            "busy",
            gettext(request_locale(request), "The service is busy. Please try again in a moment."),
        ),
        status_code=503,
        headers={"Retry-After": str(BUSY_RETRY_AFTER)},
    )


def install(app: FastAPI, not_found_page: Callable[[Request], Response]) -> None:
    """``not_found_page`` renders an unknown address for people (the web layer's page)."""

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        # People who mistype an address get a page in their language; programs
        # calling /api keep getting JSON.
        if exc.status_code == 404 and not request.url.path.startswith("/api/"):
            return not_found_page(request)
        if exc.status_code < 400:
            return await http_exception_handler(request, exc)
        locale = request_locale(request)
        code, message = _HTTP_ERRORS.get(exc.status_code, ("error", "The request failed."))
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(app, request.url.path))
        return JSONResponse(
            error_body(code, gettext(locale, message)),
            status_code=exc.status_code,
            headers=headers,
        )

    @app.exception_handler(OperationalError)
    async def _operational(request: Request, exc: OperationalError) -> Response:
        if is_busy(exc):
            log.warning("database busy on %s: %s", request.url.path, exc.orig)
            return busy_response(request)
        return await _internal(request, exc)

    @app.exception_handler(PoolTimeout)
    async def _pool(request: Request, exc: PoolTimeout) -> Response:
        log.warning("no database connection free for %s", request.url.path)
        return busy_response(request)

    @app.exception_handler(DatabaseBusy)
    async def _busy(request: Request, exc: DatabaseBusy) -> Response:
        return busy_response(request)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        # A fault, logged with its traceback; the caller still gets the one envelope.
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
        return JSONResponse(
            error_body(
                "internal-error",
                gettext(request_locale(request), "Something went wrong. Please try again later."),
            ),
            status_code=500,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        locale = request_locale(request)
        fields = [
            {
                "field": _field_label(locale, tuple(e.get("loc", ())))[0],
                "message": _validation_message(locale, e),
            }
            for e in exc.errors()
        ]
        return JSONResponse(
            error_body("invalid-input", gettext(locale, "The request is not valid."), fields),
            status_code=422,
        )

    @app.exception_handler(TokenError)
    async def _token(request: Request, exc: TokenError) -> JSONResponse:
        locale = request_locale(request)
        if isinstance(exc, TokenExpired):
            return JSONResponse(
                error_body(exc.code, gettext(locale, "This link has expired.")), status_code=410
            )
        if isinstance(exc, TokenNotYetValid):
            return JSONResponse(
                error_body(exc.code, gettext(locale, "This link is not valid yet.")),
                status_code=403,
            )
        return JSONResponse(
            error_body(
                exc.code,
                gettext(
                    locale,
                    "This link is not valid. Please use the link from your confirmation email.",
                ),
            ),
            status_code=403,
        )

    @app.exception_handler(RateLimited)
    async def _limited(request: Request, exc: RateLimited) -> JSONResponse:
        log.info("rate limit %s reached on %s", exc.rule, request.url.path)
        return JSONResponse(
            error_body(
                "too-many-requests",
                gettext(request_locale(request), "Too many attempts. Please wait and try again."),
            ),
            status_code=429,
            headers={"Retry-After": str(exc.retry_after)},
        )


# Answers any operation may give besides its own: a bad or expired link, no
# login, rate limits and the domain errors above all share the error body.
COMMON_ERRORS: dict[int, str] = {
    400: "The request cannot be processed",
    401: "Not logged in",
    403: "Forbidden, a tampered link or a failed CSRF check",
    404: "Not found",
    409: "Conflict with the current state (slot taken, booking cancelled)",
    410: "The link has expired",
    422: "Invalid input; `fields` says which",
    429: "Too many requests; retry after the `Retry-After` seconds",
    503: "The database is busy; retry after the `Retry-After` seconds",
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "field": {"type": "string"},
                            "message": {"type": "string"},
                        },
                    },
                },
            },
        }
    },
}


def document(app: FastAPI) -> None:
    """Publish the shared error answers in the OpenAPI schema of every operation."""
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = default_openapi()
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        ref = {"$ref": "#/components/schemas/Error"}
        retry_after = {
            "Retry-After": {
                "description": "Seconds to wait before retrying",
                "schema": {"type": "integer", "minimum": 0},
            }
        }
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, description in COMMON_ERRORS.items():
                    responses[str(status)] = {
                        "description": description,
                        "content": {"application/json": {"schema": ref}},
                    }
                    if status in (429, 503):
                        responses[str(status)]["headers"] = retry_after
                if "requestBody" in operation:
                    responses["413"] = {
                        "description": "The request body is too large",
                        "content": {"application/json": {"schema": ref}},
                    }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
