"""Who is calling: the staff member behind a login cookie or an API key, as dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import api_keys
from app.auth.errors import Forbidden, NotLoggedIn
from app.auth.scope import StaffScope
from app.auth.sessions import live_staff_id
from app.core.context import AppContext
from app.core.deps import CtxDep, ReadSession
from app.core.tokens import Purpose, TokenNotYetValid
from scheduler.models import Staff

_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API key from `madoguchi api-key LOGIN`, for other municipal systems; "
    "it acts as that staff account. The staff console uses its login cookie instead.",
)


def _api_key_staff(
    credentials: HTTPAuthorizationCredentials | None, session: Session, ctx: AppContext
) -> Staff:
    assert credentials is not None
    login = api_keys.login_for(credentials.credentials, ctx.settings.api_keys)
    staff = session.scalar(select(Staff).where(Staff.login == login)) if login is not None else None
    if staff is None or not staff.active:
        raise NotLoggedIn
    return staff


def current_staff(
    request: Request,
    session: ReadSession,
    ctx: CtxDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)] = None,
) -> Staff:
    if credentials is not None:
        # A presented key must be valid, even beside a login cookie: a wrong
        # key silently served under the cookie's account would hide the error.
        # Other schemes (e.g. Basic from a city's intranet proxy) are not ours.
        return _api_key_staff(credentials, session, ctx)
    staff_id = live_staff_id(request, session, ctx)
    if staff_id is None:
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


def precheck_allowed(request: Request, ctx: CtxDep, session: ReadSession) -> None:
    """The echo peer costs CPU: only holders of a join link or staff may use it.

    A join link counts before its window opens, so residents can test their
    camera days ahead; a forged or expired one does not.
    """
    if live_staff_id(request, session, ctx) is not None:
        return
    token = request.headers.get("x-join-token") or request.query_params.get("token")
    if not token:
        raise NotLoggedIn
    try:
        ctx.tokens.verify(Purpose.JOIN, token, now=ctx.clock.now())
    except TokenNotYetValid:
        return


def current_scope(staff: CurrentStaff) -> StaffScope:
    return StaffScope.of(staff)


CurrentScope = Annotated[StaffScope, Depends(current_scope)]
