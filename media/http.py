"""HTTP transport for the pre-call check: a FastAPI router over :class:`EchoService`.

Mount it in the composition root::

    service = EchoService(ice_servers=settings_ice_servers)
    app.include_router(precheck_router(service))
    # and on shutdown (lifespan): await service.close()

Endpoints (JSON):

* ``POST /api/v1/precheck`` with ``{"sdp": "...", "type": "offer"}``
  → 201 ``{"sdp": "...", "type": "answer", "check_id": "..."}``.
  The browser's offer must already contain its tracks and a data channel
  (create it before ``createOffer``) and be fully gathered (wait for
  ``iceGatheringState == "complete"``): this endpoint does not trickle.
* ``GET /api/v1/precheck/{check_id}`` → the report (``CheckReport.to_dict()``):
  ``status`` is ``running`` until the measuring window ends, then ``complete``.
  The same report is also pushed on the data channel.
* ``DELETE /api/v1/precheck/{check_id}`` → 204; ends the echo early.

Errors are ``{"error": {"code": "...", "message": "..."}}`` (the app's error
shape) with 400
(``precheck-invalid-offer``), 404 (``precheck-unknown``) or 503
(``precheck-busy``, with ``Retry-After``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from aiortc import RTCSessionDescription
from fastapi import APIRouter, params
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from media.echo import MAX_SDP_BYTES, EchoService
from media.errors import InvalidOffer, MediaError, TooManyChecks, UnknownCheck

PREFIX = "/api/v1/precheck"


class OfferIn(BaseModel):
    sdp: str = Field(min_length=1, max_length=MAX_SDP_BYTES)
    type: Literal["offer"]


class AnswerOut(BaseModel):
    sdp: str
    type: Literal["answer"]
    check_id: str


def _error(exc: MediaError, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": exc.code, "message": str(exc)}}, status_code=status, headers=headers
    )


def precheck_router(
    service: EchoService,
    *,
    dependencies: Sequence[params.Depends] = (),
) -> APIRouter:
    """The pre-call check endpoints under ``/api/v1/precheck``.

    ``dependencies`` run before every endpoint, e.g. a signed-link check or a
    rate limit supplied by the app.
    """
    router = APIRouter(prefix=PREFIX, tags=["precheck"], dependencies=list(dependencies))

    @router.post(
        "",
        status_code=201,
        response_model=AnswerOut,
        responses={503: {"description": "Too many checks running; retry after `Retry-After`"}},
    )
    async def create_check(offer: OfferIn) -> Any:
        try:
            check_id, answer = await service.create(
                RTCSessionDescription(sdp=offer.sdp, type=offer.type)
            )
        except TooManyChecks as exc:
            return _error(exc, 503, {"Retry-After": "30"})
        except InvalidOffer as exc:
            return _error(exc, 400)
        return AnswerOut(sdp=answer.sdp, type="answer", check_id=check_id)

    @router.get("/{check_id}")
    async def get_report(check_id: str) -> Any:
        try:
            return service.report(check_id).to_dict()
        except UnknownCheck as exc:
            return _error(exc, 404)

    @router.delete("/{check_id}", status_code=204)
    async def end_check(check_id: str) -> Response:
        try:
            await service.close_session(check_id)
        except UnknownCheck as exc:
            return _error(exc, 404)
        return Response(status_code=204)

    return router
