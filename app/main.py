"""The FastAPI application: the composition root wires every part here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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
    interpreters,
    line,
    public,
    staff,
    waitlist,
)
from app.api import errors as api_errors
from app.auth.deps import precheck_allowed
from app.core import errors
from app.core.context import AppContext
from app.core.settings import Settings
from app.ops import metrics
from media.echo import EchoService
from media.http import precheck_router
from web.pages.admin import audit as admin_audit_pages
from web.pages.admin import editor as admin_pages
from web.pages.call import pages as call_pages
from web.pages.kiosk import screen as kiosk_pages
from web.pages.resident import booking as resident_pages
from web.pages.resident import line_login as line_login_pages
from web.pages.resident import rating as rating_pages
from web.pages.resident import status as application_status_pages
from web.pages.resident.support import NOT_FOUND, error_page
from web.pages.staff import applications as staff_application_pages
from web.pages.staff import console as staff_pages
from web.pages.staff import counter as staff_counter_pages
from web.pages.staff import dashboard as staff_dashboard_pages
from web.pages.staff import oidc as staff_oidc_pages
from web.security import SecurityHeaders
from web.templating import STATIC_DIR


def create_app(ctx: AppContext | None = None) -> FastAPI:
    if ctx is None:
        ctx = AppContext.from_settings(Settings())
    precheck = EchoService(ice_servers=ctx.settings.ice_servers)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
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
    errors.install(app, lambda request: error_page(request, NOT_FOUND))
    api_errors.install(app)
    metrics.install(app, ctx)
    errors.document(app)
    for module in (
        public,
        bookings,
        waitlist,
        calendars,
        staff,
        counter,
        applications,
        interpreters,
    ):
        app.include_router(module.router)
    app.include_router(call_team.router)
    app.include_router(documents.router)
    app.include_router(line.router)
    app.include_router(precheck_router(precheck, dependencies=[Depends(precheck_allowed)]))
    app.include_router(staff_oidc_pages.router)
    app.include_router(staff_pages.router)
    app.include_router(staff_counter_pages.router)
    app.include_router(staff_application_pages.router)
    app.include_router(staff_dashboard_pages.router)
    app.include_router(admin_pages.router)
    app.include_router(admin_audit_pages.router)
    app.include_router(kiosk_pages.router)
    app.include_router(call_pages.router)
    app.include_router(line_login_pages.router)
    app.include_router(rating_pages.router)
    app.include_router(resident_pages.router)
    app.include_router(application_status_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
