"""Interpreters called on demand into a call happening now: pick, reserve, notify, release.

Runs on SQLite and PostgreSQL. The clock is the MiniCity's Monday 2026-11-30
09:00 JST; both interpreters work then.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from interpreter_helpers import add_interpreters
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.calls.models import CallEventRow
from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.outbox import OutboxMail
from app.core.tokens import Purpose
from app.counter.interpreters import (
    InterpreterCalls,
    NoInterpreterFree,
    RoomHasInterpreter,
    UnknownLanguage,
)
from app.counter.models import InterpreterCall, QueueTicket, TicketStatus
from app.counter.settings import CounterSettings
from app.counter.tickets import Tickets
from scheduler.models import Staff

NOW = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
MiniCity = Any


@pytest.fixture
def interpreters(city_engine: tuple[Engine, MiniCity]) -> dict[str, int]:
    return add_interpreters(city_engine[0])


def walk_in(session: Session, city: MiniCity, room: str, number: int) -> QueueTicket:
    ticket = QueueTicket(
        day=NOW.date(),
        number=number,
        kiosk_id=city.kiosk_id,
        service_id=city.consult_id,
        priority=1,
        room_id=room,
        status=TicketStatus.IN_CALL,
        queued_at=NOW,
        staff_id=city.staff_ids[0],
        accepted_at=NOW,
        refused_by=[],
    )
    session.add(ticket)
    session.flush()
    return ticket


def test_pick_reserve_notify_and_release(
    ctx: AppContext, city: MiniCity, interpreters: dict[str, int], clock: FixedClock
) -> None:
    with ctx.writer_sessions() as session:
        first = walk_in(session, city, "wi-first", 1)
        second = walk_in(session, city, "wi-second", 2)
        third = walk_in(session, city, "wi-third", 3)
        calls = InterpreterCalls(session, ctx)
        a = calls.call_for_ticket(first, "pt", clock.now(), None)
        # The first free by id, then the next: Silva is in a call now.
        assert a.interpreter.id == interpreters["silva"]
        with pytest.raises(RoomHasInterpreter):
            calls.call_for_ticket(first, "pt", clock.now(), None)
        b = calls.call_for_ticket(second, "pt", clock.now(), None)
        assert b.interpreter.id == interpreters["santos"]
        assert [f.interpreter_id for f in calls.available("pt", clock.now())] == []
        with pytest.raises(NoInterpreterFree) as refused:
            calls.call_for_ticket(third, "pt", clock.now(), None)
        # Nobody for Portuguese; Vietnamese still has someone, sign language nobody.
        assert [row.code for row in refused.value.free_languages] == ["vi"]
        with pytest.raises(UnknownLanguage):
            calls.call_for_ticket(third, "xx", clock.now(), None)
        session.commit()

        # The mail carries a join link of role interpreter for the ticket's room,
        # in the interpreter's own language.
        mails = session.scalars(
            select(OutboxMail)
            .where(OutboxMail.kind == "interpreter-called")
            .order_by(OutboxMail.id)
        ).all()
        assert [(m.to_addr, m.locale, m.channel) for m in mails] == [
            ("silva@interp.example", "en", "mail"),
            ("santos@interp.example", "ja", "mail"),
        ]
        assert "Portuguese" in mails[0].body and a.url in mails[0].body
        assert "ポルトガル語" in mails[1].body and b.url in mails[1].body
        token = a.url.rsplit("/join/", 1)[1]
        claims = ctx.tokens.verify(Purpose.JOIN, token, now=clock.now())
        assert (claims["room"], claims["role"]) == ("wi-first", "interpreter")
        assert claims["pid"] == a.call.participant and claims["name"] == "Ana Silva"
        # The language goes with it: the visitor's screen lays out a signer differently.
        assert claims["lang"] == "pt"

        # Cancelling frees Silva and tells her; the room's call ending frees Santos.
        clock.moment = NOW + timedelta(minutes=5)
        calls.cancel(a.call, clock.now())
        session.add(
            CallEventRow(
                room="wi-second", kind="call-end", participant="staff:1", role="staff",
                at=clock.now(), node="n1", detail={},
            )
        )  # fmt: skip
        session.flush()
        free = [f.interpreter_id for f in calls.available("pt", clock.now())]
        assert free == [interpreters["silva"], interpreters["santos"]]
        session.commit()
        rows = session.scalars(select(InterpreterCall).order_by(InterpreterCall.id)).all()
        assert [(r.room_id, r.release_reason) for r in rows] == [
            ("wi-first", "cancelled"),
            ("wi-second", "call-end"),
        ]
        withdrawn = session.scalars(
            select(OutboxMail).where(OutboxMail.kind == "interpreter-released")
        ).all()
        assert [m.to_addr for m in withdrawn] == ["silva@interp.example"]


def test_finishing_the_ticket_releases_the_interpreter(
    ctx: AppContext, city: MiniCity, interpreters: dict[str, int], clock: FixedClock
) -> None:
    with ctx.writer_sessions() as session:
        ticket = walk_in(session, city, "wi-done", 1)
        InterpreterCalls(session, ctx).call_for_ticket(ticket, "vi", clock.now(), None)
        session.commit()
        member = session.get(Staff, city.staff_ids[0])
        assert member is not None
        Tickets(session, ctx.tz, CounterSettings.of(ctx.settings)).finish(
            member, ticket.id, clock.now()
        )
        session.commit()
        row = session.scalars(select(InterpreterCall)).one()
        assert (row.released_at is not None, row.release_reason) == (True, "ticket-done")
        assert [f.interpreter_id for f in InterpreterCalls(session, ctx).available(
            "vi", clock.now()
        )] == [interpreters["nguyen"]]  # fmt: skip


def test_the_database_refuses_a_second_active_call_of_one_interpreter(
    ctx: AppContext, city: MiniCity, interpreters: dict[str, int]
) -> None:
    with Session(ctx.engine) as session:
        for room in ("wi-a", "wi-b"):
            session.add(
                InterpreterCall(
                    interpreter_id=interpreters["nguyen"], language="vi", room_id=room,
                    participant=f"interpreter:{room}", called_at=NOW,
                )
            )  # fmt: skip
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()
        # Released rows do not count: the same interpreter again, one at a time.
        session.add(
            InterpreterCall(
                interpreter_id=interpreters["nguyen"], language="vi", room_id="wi-a",
                participant="p1", called_at=NOW, released_at=NOW, release_reason="cancelled",
            )
        )  # fmt: skip
        session.add(
            InterpreterCall(
                interpreter_id=interpreters["nguyen"], language="vi", room_id="wi-a",
                participant="p2", called_at=NOW,
            )
        )  # fmt: skip
        session.commit()


def test_two_calls_race_for_the_last_free_interpreter(
    ctx: AppContext,
    city: MiniCity,
    interpreters: dict[str, int],
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Both see Nguyen free; the one that commits first wins, the other gets
    'nobody free' (on PostgreSQL through the unique index, while the first
    transaction is still open)."""
    caplog.set_level(logging.INFO, logger="app.counter.interpreters")
    with ctx.writer_sessions() as setup:
        walk_in(setup, city, "wi-one", 1)
        walk_in(setup, city, "wi-two", 2)
        setup.commit()
    results: dict[str, object] = {}
    first = ctx.writer_sessions()
    one = first.scalars(select(QueueTicket).where(QueueTicket.room_id == "wi-one")).one()
    won = InterpreterCalls(first, ctx).call_for_ticket(one, "vi", clock.now(), None)
    assert won.interpreter.id == interpreters["nguyen"]

    def second() -> None:
        with ctx.writer_sessions() as session:
            two = session.scalars(select(QueueTicket).where(QueueTicket.room_id == "wi-two")).one()
            try:
                InterpreterCalls(session, ctx).call_for_ticket(two, "vi", clock.now(), None)
            except NoInterpreterFree as exc:
                results["second"] = exc
                session.rollback()
            else:
                results["second"] = "won"
                session.commit()

    racer = threading.Thread(target=second)
    racer.start()
    if ctx.engine.dialect.name == "postgresql":
        # Wait until the second transaction is blocked on the index entry.
        with ctx.engine.connect() as probe:
            while (
                racer.is_alive()
                and not probe.execute(
                    text("SELECT count(*) FROM pg_locks WHERE NOT granted")
                ).scalar()
            ):
                probe.rollback()
                threading.Event().wait(0.02)
    first.commit()
    first.close()
    racer.join(timeout=60)
    assert not racer.is_alive()
    assert isinstance(results["second"], NoInterpreterFree)
    if ctx.engine.dialect.name == "postgresql":
        # It was the index, not a stale read, that refused the second.
        assert "taken concurrently" in caplog.text
    with Session(ctx.engine) as session:
        rows = session.scalars(select(InterpreterCall)).all()
        assert [(r.room_id, r.interpreter_id) for r in rows] == [("wi-one", interpreters["nguyen"])]
