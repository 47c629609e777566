"""The rating page of one call: ``/rate/{token}`` (app/tracker/ratings.py).

Server-rendered, so the call page's scripts need nothing more than a link to
it: the join page's ended step, the kiosk's call screen, the mail and LINE
message sent afterwards.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from app.core.deps import CtxDep, WriteSession
from app.core.tokens import Purpose
from app.tracker.models import RatingSource
from app.tracker.ratings import RatingRefused, existing, rate, record_for_room
from web import csrf
from web.pages.resident.support import ResidentRoute, page

router = APIRouter(route_class=ResidentRoute, include_in_schema=False)

REFUSED = {
    "not-in-call": (
        "This call cannot be rated",
        "Only the resident who took part in a call can rate it.",
    ),
    "already-rated": ("This call has been rated already", "Each call can be rated once."),
    "score-invalid": ("Please choose a rating", "Choose a number from 1 to 5."),
    "comment-too-long": ("The comment is too long", "Please write at most 1000 characters."),
}
STATUS = {"not-in-call": 403, "already-rated": 409}


def _claims(ctx: CtxDep, token: str) -> tuple[str, RatingSource, str]:
    claims = ctx.tokens.verify(Purpose.RATING, token, now=ctx.clock.now())
    back = str(claims.get("b", ""))
    return str(claims["room"]), RatingSource(claims["src"]), back if back.startswith("/") else ""


def _refused(request: Request, code: str, back: str) -> Response:
    title, text = REFUSED[code]
    return page(
        request,
        "resident/rate.html",
        {"refused": code, "refused_title": title, "refused_text": text, "back": back},
        status_code=STATUS.get(code, 422),
    )


@router.get("/rate/{token}")
def rating_form(request: Request, token: str, ctx: CtxDep, session: WriteSession) -> Response:
    room, _source, back = _claims(ctx, token)
    record = record_for_room(session, room, ctx.clock.now())
    session.commit()
    if record is not None and existing(session, record) is not None:
        return _refused(request, "already-rated", back)
    return page(request, "resident/rate.html", {"action": f"/rate/{token}", "back": back})


@router.post("/rate/{token}", dependencies=[Depends(csrf.require)])
def rating_submit(
    request: Request,
    token: str,
    ctx: CtxDep,
    session: WriteSession,
    score: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
) -> Response:
    room, source, back = _claims(ctx, token)
    now = ctx.clock.now()
    try:
        record = record_for_room(session, room, now)
        rate(session, record, int(score) if score.isdigit() else 0, comment, source, now)
    except RatingRefused as exc:
        session.rollback()
        return _refused(request, exc.code, back)
    session.commit()
    return page(request, "resident/rate.html", {"done": True, "back": back})
