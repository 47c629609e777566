"""Interpreters: the languages a resident can ask for, and who is free now (for walk-ins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from app.deps import CtxDep, CurrentStaff, LocaleDep, ReadSession
from scheduler.interpreter_service import InterpreterService, languages
from scheduler.orm import InterpreterLanguage

router = APIRouter(prefix="/api/v1", tags=["interpreters"])


class LanguageOut(BaseModel):
    code: str
    name: str
    name_ja: str
    name_en: str


class AvailableInterpreterOut(BaseModel):
    id: int
    name: str
    language: str
    free_from: datetime
    free_until: datetime
    # The role of the join token to invite them with (docs/signaling.md).
    role: str = "interpreter"


def language_out(row: InterpreterLanguage, locale: str) -> LanguageOut:
    return LanguageOut(
        code=row.code,
        name=row.name_ja if locale == "ja" else row.name_en,
        name_ja=row.name_ja,
        name_en=row.name_en,
    )


@router.get("/interpreter-languages")
def interpreter_languages(session: ReadSession, locale: LocaleDep) -> list[LanguageOut]:
    """Languages an interpreter can be booked for (``jsl``: Japanese Sign Language)."""
    return [language_out(row, locale) for row in languages(session)]


@router.get("/staff/interpreters/available")
def available_interpreters(
    staff: CurrentStaff,
    session: ReadSession,
    ctx: CtxDep,
    language: Annotated[str, Query(min_length=1, max_length=20)],
    minutes: Annotated[int, Query(ge=5, le=240)] = 30,
) -> list[AvailableInterpreterOut]:
    """Interpreters of ``language`` working and without a booking for the next
    ``minutes``: for a walk-in call that needs one now (staff only)."""
    found = InterpreterService(session, tz=ctx.tz).free_now(
        language, ctx.clock.now(), minutes=minutes
    )
    return [
        AvailableInterpreterOut(
            id=f.interpreter_id,
            name=f.name,
            language=f.language,
            free_from=f.window.start.astimezone(ctx.tz),
            free_until=f.window.end.astimezone(ctx.tz),
        )
        for f in found
    ]
