"""The embedded default's SQLite connections: how they are set up."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from app.core.db import POOL_SIZE, SQLITE_CACHE_KIB, make_engine


def test_every_pooled_sqlite_connection_keeps_a_small_page_cache(tmp_path: Path) -> None:
    # Each pooled connection has its own page cache: at SQLite's default of
    # 2 MiB the pool alone could grow the process by POOL_SIZE × 2 MiB.
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        conns = [engine.connect() for _ in range(3)]
        for conn in conns:
            assert conn.execute(text("PRAGMA cache_size")).scalar() == -SQLITE_CACHE_KIB
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        for conn in conns:
            conn.close()
    finally:
        engine.dispose()
    assert POOL_SIZE * SQLITE_CACHE_KIB <= 32 * 1024
