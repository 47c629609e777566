"""Engine and session factory for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    DateTime,
    Dialect,
    Engine,
    MetaData,
    TypeDecorator,
    create_engine,
    event,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import (
    DeclarativeBase,
    Session,
    sessionmaker,
)

# Execution option asking SQLite for a write lock at BEGIN, so that two
# booking transactions queue (busy_timeout) instead of failing to upgrade a
# read lock half-way through.
SQLITE_IMMEDIATE = "madoguchi_sqlite_immediate"


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


# Request threads (anyio's limiter, set by the app's lifespan). Each request
# holds at most two connections at once (its read session, which also finds
# the caller, and its writer session), so a pool of twice that plus a few for
# the jobs loop, the signaling event writer and metrics can never run dry
# while a request that already holds one waits for a second.
REQUEST_THREADS = 20
POOL_SIZE = 2 * REQUEST_THREADS + 6
SQLITE_CACHE_KIB = 512

# How long a request waits for SQLite's write lock or for a pooled connection
# before it is answered 503 with Retry-After. A write transaction holds the
# lock for milliseconds; seconds of waiting means the database is overloaded,
# and a prompt 503 is better than a request (and its thread) hanging.
LOCK_TIMEOUT_SECONDS = 3.0


_HOLDS_WRITE_LOCK = "madoguchi_holds_write_lock"
SLOW_WRITE_SECONDS = 0.5
log = logging.getLogger(__name__)


def _caller() -> str:
    """The project's frames that ended the transaction, innermost last (for the log)."""
    frames = [
        f"{Path(f.filename).stem}.{f.name}"
        for f in traceback.extract_stack()
        if "site-packages" not in f.filename and not f.filename.endswith("db.py")
    ]
    return " > ".join(frames[-4:])


class DatabaseBusy(Exception):
    """The write lock or a pooled connection was not free within the bound."""


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` means "try again shortly" rather than a fault."""
    if isinstance(exc, DatabaseBusy | sa_exc.TimeoutError):
        return True
    if isinstance(exc, sa_exc.OperationalError):
        # SQLite: SQLITE_BUSY / SQLITE_LOCKED after busy_timeout.
        text = str(exc.orig).lower()
        if "database is locked" in text or "database table is locked" in text:
            return True
        # PostgreSQL: lock_timeout (55P03) or statement_timeout while waiting on a lock.
        return getattr(exc.orig, "sqlstate", None) in ("55P03", "57014")
    return False


def make_engine(
    url: str,
    *,
    pool_size: int = POOL_SIZE,
    lock_timeout: float = LOCK_TIMEOUT_SECONDS,
    **kwargs: Any,
) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    # A fixed pool large enough for every request thread (see POOL_SIZE): no
    # overflow connections opened and closed in a burst, and a short wait
    # (then 503) instead of SQLAlchemy's 30 s if it ever runs dry.
    kwargs.setdefault("pool_size", pool_size)
    kwargs.setdefault("max_overflow", 0)
    kwargs.setdefault("pool_timeout", lock_timeout)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    else:
        # In-memory databases use a singleton pool that takes no size.
        for key in ("pool_size", "max_overflow", "pool_timeout"):
            kwargs.pop(key)
    kwargs.setdefault("connect_args", {})
    kwargs["connect_args"].setdefault("check_same_thread", False)
    kwargs["connect_args"].setdefault("timeout", lock_timeout)
    busy_ms = int(lock_timeout * 1000)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so BEGIN is ours.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        # The bound on waiting for the write lock; then "database is locked" (503).
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        cur.execute("PRAGMA synchronous=NORMAL")
        # The pool holds up to POOL_SIZE connections, each with its own page
        # cache (SQLite's default: 2 MiB): as the file grew past that, every
        # connection's cache filled and the process grew by up to 90 MiB. The
        # OS caches the file anyway; 512 KiB each keeps the hot pages.
        cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cur.close()

    # The writers of this process queue here rather than in SQLite's busy
    # handler, which polls with growing sleeps: under a steady stream of short
    # writers, an unlucky waiter kept missing the lock until its timeout. Here
    # a released lock wakes the next waiter at once. (Other processes on the
    # same file still meet in the busy handler, bounded by busy_timeout.)
    write_lock = threading.Lock()

    def _release(info: dict[str, Any]) -> None:
        since = info.pop(_HOLDS_WRITE_LOCK, None)
        if since is None:
            return
        write_lock.release()
        held = time.monotonic() - since
        if held > SLOW_WRITE_SECONDS:
            # Every other writer of the process waited this long: worth a look.
            log.warning(
                "a write transaction held the SQLite write lock for %.2f s (%s)", held, _caller()
            )

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(SQLITE_IMMEDIATE, False)
        if not immediate:
            conn.exec_driver_sql("BEGIN")
            return
        if not write_lock.acquire(timeout=lock_timeout):
            raise DatabaseBusy(f"no write lock within {lock_timeout} s")
        conn.info[_HOLDS_WRITE_LOCK] = time.monotonic()
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(conn.info)
            raise

    # Released as the transaction ends. COMMIT itself runs just after: the next
    # writer, already past this lock, meets it in the busy handler for the
    # milliseconds it takes.
    @event.listens_for(engine, "commit")
    def _on_commit(conn: Any) -> None:
        _release(conn.info)

    @event.listens_for(engine, "rollback")
    def _on_rollback(conn: Any) -> None:
        _release(conn.info)

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        # Whatever else ended the transaction (an invalidated connection), the
        # lock is free once the connection is back in the pool.
        _release(record.info)

    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def writer(engine: Engine) -> Engine:
    """The same pool, but every transaction starts as a writer (SQLite: BEGIN IMMEDIATE).

    Booking transactions read availability and then insert; on SQLite a plain
    BEGIN would let two of them read, then fail to upgrade their locks.
    """
    return engine.execution_options(**{SQLITE_IMMEDIATE: True})


@contextlib.contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend.

    SQLite has no time zones; storing naive UTC there and re-attaching UTC on
    the way out keeps comparisons in SQL correct on both backends.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime()}  # noqa: RUF012


T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in slices of ``size``: IN lists a driver accepts, short write transactions."""
    for i in range(0, len(items), size):
        yield items[i : i + size]
