"""The opening-day rush queue over JSON: take a place, watch it, get the admission to book.

A rush service's ``POST /api/v1/bookings`` needs the admission from here in
the ``X-Rush-Admission`` header; without a valid one it answers 429 with
``Retry-After`` and a ``Link`` to this queue (docs/rush.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from app.api.schemas import DbId
from app.core.context import AppContext
from app.core.deps import CtxDep
from app.rush import flow, queue
from app.rush.queue import Place

router = APIRouter(prefix="/api/v1/rush", tags=["rush"])

REFUSED = {
    "description": "Not a rush service, not open yet (with `Retry-After`) or fully booked",
    "model": dict,
}


class PlaceOut(BaseModel):
    ticket: str = Field(
        description="This place's signed ticket: poll `GET /api/v1/rush/tickets/{ticket}`"
    )
    service_id: int
    number: int = Field(description="Arrival number: the queue admits in this order")
    state: Literal["waiting", "admitted", "expired", "booked", "full"]
    ahead: int = Field(description="Residents before this one still waiting")
    eta_seconds: int = Field(description="Estimated seconds until admitted (0 once admitted)")
    retry_after: int = Field(description="Seconds to wait before asking again (0: no need)")
    admission: str | None = Field(
        default=None,
        description="While admitted: send it as `X-Rush-Admission` with the booking",
    )
    admission_expires_at: datetime | None = None


def place_out(ctx: CtxDep, ticket: str, place: Place) -> PlaceOut:
    return PlaceOut(
        ticket=ticket,
        service_id=place.service_id,
        number=place.number,
        state=place.state.value,
        ahead=place.ahead,
        eta_seconds=place.eta_seconds,
        retry_after=flow.retry_after(place),
        admission=flow.admission(ctx, place),
        admission_expires_at=place.expires_at,
    )


@router.post("/services/{service_id}/tickets", status_code=201, responses={409: REFUSED})
def take_place(service_id: DbId, ctx: CtxDep, response: Response) -> PlaceOut:
    """A place at the end of the service's queue (first come, first admitted)."""
    now = ctx.clock.now()
    arrival = flow.arrive(ctx, service_id, now)
    out = place_out(ctx, arrival.ticket, arrival.place)
    if out.retry_after:
        response.headers["Retry-After"] = str(out.retry_after)
    return out


def _look(ctx: AppContext, service_id: int, number: int, now: datetime) -> Place:
    return flow.look(ctx, flow.rush_service(ctx, service_id), number, now)


@router.get("/tickets/{ticket}")
async def watch_place(ticket: str, ctx: CtxDep, response: Response) -> PlaceOut:
    """Where this place stands now; the admission once it is this resident's turn."""
    now = ctx.clock.now()
    service_id, number = queue.read_ticket(ctx.tokens, ticket, now)
    # Most polls of a rush are waiting numbers this process can answer from
    # memory: on the event loop, without a hop through the request threads.
    place = flow.remembered(ctx, service_id, number, now)
    if place is None:
        place = await run_in_threadpool(_look, ctx, service_id, number, now)
    out = place_out(ctx, ticket, place)
    if out.retry_after:
        response.headers["Retry-After"] = str(out.retry_after)
    return out
