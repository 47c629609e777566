"""Alembic environment: runs against the URL given by ``madoguchi db upgrade``."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection

import app.ops.tables  # noqa: F401  (registers every table on the metadata)
from app.core.db import Base, UTCDateTime, make_engine

config = context.config
target_metadata = Base.metadata


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    # Migrations must not import app types: UTCDateTime is a plain timestamptz.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # On a live database a migration must never queue behind a long
        # transaction while every request queues behind it: fail fast, retry.
        connection.exec_driver_sql("SET lock_timeout = '3s'")
        connection.commit()  # a session setting; alembic must start its own transactions
    context.configure(
        transaction_per_migration=True,
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `madoguchi db upgrade`")
run_migrations_online()
