"""The app under test for ``bench/booking_storm.py``: madoguchi plus one bare route.

Served by uvicorn as a separate process::

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/<db> \\
        .venv/bin/python -m uvicorn --app-dir bench --factory storm_app:build \\
        --host 127.0.0.1 --port 8000 --workers 1 --log-level warning

``POST /bench/bare`` is the yardstick: the same stack as ``POST /api/v1/bookings``
(uvicorn, FastAPI, the same pydantic body model, the writer-session dependency
of ``app.core.deps``, SQLAlchemy, psycopg, one commit), but its whole database work is
exactly one INSERT into ``bench_bare``, a table the bench script creates.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.api.schemas import BookingCreate
from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.db import make_engine
from app.core.deps import CtxDep, WriteSession
from app.core.settings import Settings
from app.main import create_app

# Monday 2026-06-01 09:00 JST: June has no public holidays, so the next 30 days
# hold 22 ordinary weekdays and availability never depends on the real date.
NOW = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
BENCH_SECRET = "bench-secret-" + "b" * 40
LOOPBACK = "127.0.0.1"

router = APIRouter(prefix="/bench", tags=["bench"])


class BareOut(BaseModel):
    id: int


@router.post("/bare", status_code=201)
def bare_insert(body: BookingCreate, session: WriteSession, ctx: CtxDep) -> BareOut:
    """One INSERT in one transaction, committed once: the floor under any write endpoint."""
    row_id = session.execute(
        text("INSERT INTO bench_bare (payload, created_at) VALUES (:payload, :at) RETURNING id"),
        {"payload": body.name, "at": ctx.clock.now()},
    ).scalar_one()
    session.commit()
    return BareOut(id=row_id)


def database_url() -> str:
    url = os.environ["BENCH_DATABASE_URL"]
    host = make_url(url).host
    if host != LOOPBACK:
        raise RuntimeError(f"BENCH_DATABASE_URL must point at {LOOPBACK}, not {host!r}")
    return url


def build() -> FastAPI:
    url = database_url()
    settings = Settings(
        mode="demo",
        database_url=url,
        secret_key=os.environ.get("BENCH_SECRET_KEY", BENCH_SECRET),
        public_base_url=f"http://{LOOPBACK}:8000",
        demo_data=False,
    )
    ctx = AppContext(settings=settings, engine=make_engine(url), clock=FixedClock(NOW))
    app = create_app(ctx)
    app.include_router(router)
    return app
