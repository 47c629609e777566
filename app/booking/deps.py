"""Dependencies of the booking routes: the scheduling service on a read or write session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.core.deps import CtxDep, ReadSession, WriteSession
from scheduler.service import SchedulingService


def scheduling(ctx: CtxDep, session: WriteSession) -> SchedulingService:
    return SchedulingService(session, tz=ctx.tz)


def reading_scheduling(ctx: CtxDep, session: ReadSession) -> SchedulingService:
    return SchedulingService(session, tz=ctx.tz)


SchedulingDep = Annotated[SchedulingService, Depends(scheduling)]


ReadSchedulingDep = Annotated[SchedulingService, Depends(reading_scheduling)]
