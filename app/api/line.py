"""LINE's webhook: ``POST /line/webhook`` (docs/line.md)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from app.core.deps import CtxDep, WriteSession
from app.core.errors import error_body
from app.line.webhook import WebhookRefused, receive

router = APIRouter(include_in_schema=False)


async def raw_body(request: Request) -> bytes:
    return await request.body()


@router.post("/line/webhook")
def line_webhook(
    request: Request,
    body: Annotated[bytes, Depends(raw_body)],
    ctx: CtxDep,
    session: WriteSession,
) -> JSONResponse:
    secret = ctx.settings.line_channel_secret
    if not secret:
        return JSONResponse(error_body("line-off", "LINE is not configured."), status_code=404)
    try:
        result = receive(
            session,
            secret=secret,
            body=body.decode("utf-8", errors="replace"),
            signature=request.headers.get("x-line-signature", ""),
            now=ctx.clock.now(),
            max_age=timedelta(minutes=ctx.settings.line_event_max_age_minutes),
        )
    except WebhookRefused as exc:
        session.rollback()
        return JSONResponse(error_body(exc.code, str(exc)), status_code=400)
    session.commit()
    # LINE only needs the 200; the counts help whoever reads the delivery log.
    return JSONResponse(
        {"stored": result.stored, "duplicates": result.duplicates, "ignored": result.ignored}
    )
