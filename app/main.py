"""The FastAPI application: the composition root wires every part here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from app.api import (
    applications,
    bookings,
    calendars,
    call_team,
    counter,
    documents,
    forms,
    interpreters,
    line,
    openapi_links,
    public,
    rush,
    staff,
    waitlist,
)
from app.api import errors as api_errors
from app.auth.deps import precheck_allowed
from app.core import errors
from app.core.context import AppContext
from app.core.db import REQUEST_THREADS
from app.core.networks import StaffNetworkGate
from app.core.settings import Settings
from app.line import webhook as line_webhook
from app.ops import metrics
from media.echo import EchoService
from media.http import precheck_router
from web.pages import routes as pages
from web.pages.resident.support import NOT_FOUND, error_page
from web.security import SecurityHeaders
from web.templating import STATIC_DIR


def create_app(ctx: AppContext | None = None) -> FastAPI:
    if ctx is None:
        ctx = AppContext.from_settings(Settings())
    precheck = EchoService(ice_servers=ctx.settings.ice_servers)
    if ctx.settings.line_channel_secret:
        line_webhook.load_sdk()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Sync routes run in these threads; the connection pool is sized for them
        # (app/core/db.py), so no request waits for a connection another holds.
        anyio.to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
        yield
        await precheck.close()

    app = FastAPI(
        lifespan=lifespan,
        title="madoguchi",
        summary="Online consultation and remote-counter scheduler (オンライン相談・リモート窓口)",
        version="0.1.0",
    )
    app.state.ctx = ctx
    app.state.precheck = precheck
    app.add_middleware(
        SessionMiddleware,
        secret_key=ctx.settings.effective_secret,
        session_cookie="madoguchi_staff",
        max_age=ctx.settings.session_max_age_minutes * 60,
        same_site="strict",
        https_only=ctx.settings.public_base_url.startswith("https://"),
    )
    app.add_middleware(SecurityHeaders, hsts=ctx.settings.public_base_url.startswith("https://"))
    app.add_middleware(StaffNetworkGate, networks=ctx.settings.staff_networks)
    errors.install(app, lambda request: error_page(request, NOT_FOUND))
    api_errors.install(app)
    metrics.install(app, ctx)
    errors.document(app)
    openapi_links.document(app)
    for module in (
        public,
        bookings,
        waitlist,
        calendars,
        staff,
        counter,
        applications,
        forms,
        interpreters,
        rush,
    ):
        app.include_router(module.router)
    app.include_router(call_team.router)
    app.include_router(documents.router)
    app.include_router(line.router)
    app.include_router(precheck_router(precheck, dependencies=[Depends(precheck_allowed)]))
    for page_router in pages.ROUTERS:
        app.include_router(page_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
