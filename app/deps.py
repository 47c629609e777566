"""FastAPI dependencies, as ``Annotated`` aliases used by every router."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Cookie, Depends, Header, Query, Request
from sqlalchemy.orm import Session

from app.context import AppContext
from app.i18n import negotiate
from app.tokens import Purpose, TokenNotYetValid
from scheduler.orm import Staff
from scheduler.service import SchedulingService


class NotLoggedIn(Exception):
    pass


class Forbidden(Exception):
    pass


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


def scheduling(ctx: CtxDep, session: WriteSession) -> SchedulingService:
    return SchedulingService(session, tz=ctx.tz)


def reading_scheduling(ctx: CtxDep, session: ReadSession) -> SchedulingService:
    return SchedulingService(session, tz=ctx.tz)


SchedulingDep = Annotated[SchedulingService, Depends(scheduling)]
ReadSchedulingDep = Annotated[SchedulingService, Depends(reading_scheduling)]


def current_staff(request: Request, session: ReadSession) -> Staff:
    staff_id = request.session.get("staff_id")
    if not isinstance(staff_id, int):
        raise NotLoggedIn
    staff = session.get(Staff, staff_id)
    if staff is None or not staff.active:
        request.session.clear()
        raise NotLoggedIn
    return staff


CurrentStaff = Annotated[Staff, Depends(current_staff)]


def current_admin(staff: CurrentStaff) -> Staff:
    if not staff.is_admin:
        raise Forbidden
    return staff


CurrentAdmin = Annotated[Staff, Depends(current_admin)]


def precheck_allowed(request: Request, ctx: CtxDep) -> None:
    """The echo peer costs CPU: only holders of a join link or staff may use it.

    A join link counts before its window opens, so residents can test their
    camera days ahead; a forged or expired one does not.
    """
    if isinstance(request.session.get("staff_id"), int):
        return
    token = request.headers.get("x-join-token") or request.query_params.get("token")
    if not token:
        raise NotLoggedIn
    try:
        ctx.tokens.verify(Purpose.JOIN, token, now=ctx.clock.now())
    except TokenNotYetValid:
        return
