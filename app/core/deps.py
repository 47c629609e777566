"""FastAPI dependencies, as ``Annotated`` aliases used by every router."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Cookie, Depends, Header, Query, Request
from sqlalchemy.orm import Session

from app.core.context import AppContext
from app.core.i18n import negotiate


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


CtxDep = Annotated[AppContext, Depends(get_ctx)]


def read_session(ctx: CtxDep) -> Iterator[Session]:
    with ctx.sessions() as session:
        yield session


def write_session(ctx: CtxDep) -> Iterator[Session]:
    """A writer session; the route commits once, anything uncommitted rolls back."""
    with ctx.writer_sessions() as session:
        yield session


ReadSession = Annotated[Session, Depends(read_session)]
WriteSession = Annotated[Session, Depends(write_session)]


def get_locale(
    lang: Annotated[str | None, Query(include_in_schema=False)] = None,
    lang_cookie: Annotated[str | None, Cookie(alias="lang", include_in_schema=False)] = None,
    accept_language: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> str:
    return negotiate(lang or lang_cookie, accept_language)


LocaleDep = Annotated[str, Depends(get_locale)]
