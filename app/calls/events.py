"""Durable call events (``call_events`` table) written by the signaling server.

``SqlEventSink`` implements ``signaling.events.EventSink``: ``record`` only
queues (the event loop never waits on the database), one writer task inserts
queued events in batches in a worker thread, and ``flush`` waits until all
events recorded so far are committed. A failed write is retried with back-off,
never dropped: the session record and the "ended rooms are refused after a
restart" guarantee both depend on these rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import SQLAlchemyError

from app.calls.models import CallEventRow
from app.core.db import DatabaseBusy, is_busy, writer
from signaling.events import CallEvent, EventKind

log = logging.getLogger(__name__)


def ensure_table(engine: Engine) -> None:
    """Create ``call_events`` if missing (until an Alembic migration owns it)."""
    CallEventRow.__table__.create(engine, checkfirst=True)  # type: ignore[attr-defined]


def _row(event: CallEvent) -> dict[str, Any]:
    return {
        "room": event.room,
        "kind": event.kind.value,
        "participant": event.participant,
        "role": event.role.value if event.role else None,
        "at": event.at,
        "node": event.node,
        "detail": dict(event.detail),
    }


class SqlEventSink:
    def __init__(self, engine: Engine, *, batch_max: int = 500, retry_max: float = 5.0) -> None:
        self._engine = engine
        self._batch_max = batch_max
        self._retry_max = retry_max
        self._queue: list[CallEvent] = []
        self._recorded = 0
        self._written = 0
        self._changed: asyncio.Condition | None = None
        self._wake: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None

    def record(self, event: CallEvent) -> None:
        self._queue.append(event)
        self._recorded += 1
        self._ensure_writer()
        assert self._wake is not None
        self._wake.set()

    async def flush(self) -> None:
        target = self._recorded
        if self._written >= target:
            return
        self._ensure_writer()
        assert self._changed is not None
        async with self._changed:
            await self._changed.wait_for(lambda: self._written >= target)

    async def ended_rooms(self, since: datetime | None = None) -> set[str]:
        def load() -> set[str]:
            stmt = select(CallEventRow.room).where(CallEventRow.kind == EventKind.CALL_END.value)
            if since is not None:
                stmt = stmt.where(CallEventRow.at >= since)
            with self._engine.connect() as conn:
                return set(conn.execute(stmt.distinct()).scalars())

        return await asyncio.to_thread(load)

    async def close(self) -> None:
        await self.flush()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None

    def _ensure_writer(self) -> None:
        if self._writer is None or self._writer.done():
            self._wake = asyncio.Event()
            self._changed = asyncio.Condition()
            self._writer = asyncio.get_running_loop().create_task(
                self._write_loop(), name="call-events-writer"
            )
            if self._queue:
                self._wake.set()

    def _insert(self, batch: list[CallEvent]) -> None:
        # A writer like the requests: on SQLite it queues for the write lock
        # with them instead of losing the race in the busy handler.
        with writer(self._engine).begin() as conn:
            conn.execute(insert(CallEventRow), [_row(e) for e in batch])

    async def _write_loop(self) -> None:
        assert self._wake is not None and self._changed is not None
        delay = 0.1
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = self._queue[: self._batch_max]
                try:
                    await asyncio.to_thread(self._insert, batch)
                except (SQLAlchemyError, DatabaseBusy) as exc:
                    if is_busy(exc):
                        log.warning("call events: database busy; %d events wait", len(batch))
                    else:
                        log.exception("call events: write of %d events failed", len(batch))
                    await asyncio.sleep(delay)
                    delay = min(self._retry_max, delay * 2)
                    continue
                delay = 0.1
                del self._queue[: len(batch)]
                self._written += len(batch)
                async with self._changed:
                    self._changed.notify_all()
