"""FastAPI dependencies, as ``Annotated`` aliases used by every router."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from fastapi import Cookie, Depends, Header, Query, Request
from sqlalchemy.orm import Session

from app.core.context import AppContext
from app.core.i18n import negotiate


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


async def _ctx(request: Request) -> AppContext:
    # A coroutine, so FastAPI resolves it on the event loop: a plain function
    # dependency would cost every request one more hop through the thread pool.
    return get_ctx(request)


CtxDep = Annotated[AppContext, Depends(_ctx)]


# Sessions are closed in threads of their own, never in the request threadpool.
# A writer session that did not commit (a refused request) holds SQLite's write
# lock until it closes; if closing had to wait for a request thread while every
# request thread waited for that lock, nothing would move until their waits
# timed out.
_CLOSERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="session-close")


async def _close(session: Session) -> None:
    await asyncio.get_running_loop().run_in_executor(_CLOSERS, session.close)


async def read_session(ctx: CtxDep) -> AsyncIterator[Session]:
    session = ctx.sessions()
    try:
        yield session
    finally:
        await _close(session)


async def write_session(ctx: CtxDep) -> AsyncIterator[Session]:
    """A writer session; the route commits once, anything uncommitted rolls back."""
    session = ctx.writer_sessions()
    try:
        yield session
    finally:
        await _close(session)


ReadSession = Annotated[Session, Depends(read_session)]
WriteSession = Annotated[Session, Depends(write_session)]


def get_locale(
    lang: Annotated[str | None, Query(include_in_schema=False)] = None,
    lang_cookie: Annotated[str | None, Cookie(alias="lang", include_in_schema=False)] = None,
    accept_language: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> str:
    return negotiate(lang or lang_cookie, accept_language)


LocaleDep = Annotated[str, Depends(get_locale)]
