"""Helpers shared by several test modules."""

from __future__ import annotations

from datetime import time

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from scheduler.models import Interpreter, InterpreterHours, InterpreterLanguage


def add_interpreters(engine: Engine) -> dict[str, int]:
    """Two Portuguese interpreters (Silva reads English mail) and one Vietnamese."""
    with Session(engine) as session:
        session.add_all(
            [
                InterpreterLanguage(
                    code="pt", name_ja="ポルトガル語", name_en="Portuguese", name_native="Português"
                ),
                InterpreterLanguage(
                    code="vi",
                    name_ja="ベトナム語",
                    name_en="Vietnamese",
                    name_native="Tiếng Việt",
                    sort_order=1,
                ),
                InterpreterLanguage(
                    code="jsl", name_ja="手話", name_en="Sign language", name_native="手話"
                ),
            ]
        )
        hours = [(d, time(8, 30), time(17, 0)) for d in range(5)]
        people = {
            "silva": Interpreter(
                slug="silva", name="Ana Silva", email="silva@interp.example", languages="pt",
                locale="en",
            ),
            "santos": Interpreter(
                slug="santos", name="サントス", email="santos@interp.example", languages="pt"
            ),
            "nguyen": Interpreter(
                slug="nguyen", name="グエン", email="nguyen@interp.example", languages="vi"
            ),
        }  # fmt: skip
        for person in people.values():
            person.hours = [InterpreterHours(weekday=d, start=s, end=e) for d, s, e in hours]
            session.add(person)
        session.commit()
        return {k: v.id for k, v in people.items()}
