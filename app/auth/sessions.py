"""Staff login sessions: a signed cookie that names a server-side row.

The cookie (Starlette's ``SessionMiddleware``, signed with itsdangerous)
carries the staff id, a random session id and the login and last-seen times.
A cookie counts only while its row in ``staff_sessions`` exists and neither
the idle nor the absolute limit has passed. Logout deletes the row; a
password change and an administrator's "sign out everywhere" delete every
row of that staff member, so a copied cookie stops working at once.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection

from app.auth.models import StaffSession
from app.core.context import AppContext
from scheduler.models import Staff

SESSION_ID = "sid"


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_staff_session(
    request: HTTPConnection, db: Session, staff_id: int, ctx: AppContext
) -> None:
    """A fresh session on login, so a session fixed before login is worthless.

    The caller commits. Rows of this staff member past the absolute limit are
    dropped on the way: nothing else would ever read them.
    """
    now = ctx.clock.now()
    oldest = now - timedelta(minutes=ctx.settings.session_max_age_minutes)
    db.execute(
        delete(StaffSession).where(
            StaffSession.staff_id == staff_id, StaffSession.created_at < oldest
        )
    )
    session_id = secrets.token_urlsafe(32)
    db.add(StaffSession(id_hash=_digest(session_id), staff_id=staff_id, created_at=now))
    request.session.clear()
    request.session["staff_id"] = staff_id
    request.session[SESSION_ID] = session_id
    request.session["login_at"] = int(now.timestamp())
    request.session["seen_at"] = int(now.timestamp())


def end_staff_session(request: HTTPConnection, db: Session) -> None:
    """Logout: the row goes, so a copy of the cookie is worthless too. The caller commits."""
    session_id = request.session.get(SESSION_ID)
    if isinstance(session_id, str):
        db.execute(delete(StaffSession).where(StaffSession.id_hash == _digest(session_id)))
    request.session.clear()


def revoke_staff_sessions(db: Session, staff_id: int) -> int:
    """Sign a staff member out everywhere; how many sessions ended. The caller commits."""
    result = db.execute(delete(StaffSession).where(StaffSession.staff_id == staff_id))
    count: int = result.rowcount or 0  # type: ignore[attr-defined]
    return count


def password_hashes(db: Session) -> dict[int, str | None]:
    """Every staff member's password hash, to tell afterwards whose changed."""
    return {sid: h for sid, h in db.execute(select(Staff.id, Staff.password_hash))}


def revoke_changed_passwords(db: Session, before: Mapping[int, str | None]) -> list[int]:
    """After a bulk change (the importer): sign out everyone whose password changed."""
    changed = [sid for sid, h in password_hashes(db).items() if sid in before and before[sid] != h]
    for staff_id in changed:
        revoke_staff_sessions(db, staff_id)
    return changed


def session_expired(request: HTTPConnection, ctx: AppContext) -> bool:
    """Idle too long, or logged in too long ago; refreshes the idle clock otherwise."""
    now = int(ctx.clock.now().timestamp())
    login_at = request.session.get("login_at")
    seen_at = request.session.get("seen_at")
    if not isinstance(login_at, int) or not isinstance(seen_at, int):
        return True
    settings = ctx.settings
    if now - login_at > settings.session_max_age_minutes * 60:
        return True
    if now - seen_at > settings.session_idle_minutes * 60:
        return True
    if now - seen_at >= 60:  # rewrite the cookie at most once a minute
        request.session["seen_at"] = now
    return False


def live_staff_id(request: HTTPConnection, db: Session, ctx: AppContext) -> int | None:
    """The staff id of the request's session if it still counts; clears a dead cookie."""
    staff_id = request.session.get("staff_id")
    session_id = request.session.get(SESSION_ID)
    if not isinstance(staff_id, int):
        return None
    alive = (
        isinstance(session_id, str)
        and not session_expired(request, ctx)
        and db.scalar(
            select(StaffSession.staff_id).where(StaffSession.id_hash == _digest(session_id))
        )
        == staff_id
    )
    if not alive:
        request.session.clear()
        return None
    return staff_id


def stream_staff_id(request: HTTPConnection, ctx: AppContext) -> int | None:
    """``live_staff_id`` for an event stream, on a short database session of its own:
    a stream must not hold a session (and its connection) open for minutes."""
    with ctx.sessions() as db:
        staff_id = live_staff_id(request, db, ctx)
        staff = db.get(Staff, staff_id) if staff_id is not None else None
        return staff_id if staff is not None and staff.active else None
