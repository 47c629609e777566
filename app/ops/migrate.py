"""``madoguchi db upgrade``: Alembic driven from code, no alembic.ini needed."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from psycopg.errors import LockNotAvailable
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from app.core.db import normalise_url

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


LOCK_RETRIES = 10


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate; on a live PostgreSQL database a step that hit ``lock_timeout``
    is retried (each migration is its own transaction, so work done stays done)."""
    for attempt in range(1, LOCK_RETRIES + 1):
        try:
            command.upgrade(alembic_config(url), revision)
            return
        except OperationalError as exc:
            if not isinstance(exc.orig, LockNotAvailable) or attempt == LOCK_RETRIES:
                raise
            log.warning("migration waited too long for a lock (attempt %s); retrying", attempt)
            time.sleep(min(0.5 * attempt, 5))


def upgrade_engine(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    # Not one outer transaction: migrations that build indexes CONCURRENTLY
    # commit their own steps (transaction_per_migration in env.py).
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()
