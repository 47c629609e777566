"""A per-process cache of slowly changing scheduling configuration.

Every booking needs the department's weekly hours, the qualified staff with
their weekly hours and the city's closure policy; building them from rows was
most of a booking's CPU (docs/benchmarks.md). They change only when an
administrator edits the city, so each process keeps them keyed by a
``config_version`` token that every ORM write to a configuration table
replaces (hooked in ``scheduler.models``). Each use
costs one indexed read of that token; several processes stay consistent
because the token lives in the database. Raw SQL that bypasses the ORM must
call ``scheduler.models.bump_config(session)`` itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from scheduler.models import config_token

T = TypeVar("T")


@dataclass
class _Entry:
    token: str
    values: dict[Any, Any]


class ConfigCache:
    """Values computed from configuration, reused while the token is unchanged."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_db: dict[str, _Entry] = {}

    def view(self, session: Session) -> ConfigView:
        """Read the token once; the view serves every lookup of one query."""
        return self.view_at(session, config_token(session))

    def view_at(self, session: Session, token: str | None) -> ConfigView:
        """A view for a token the caller has just read in ``session``'s transaction."""
        bind = session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        return ConfigView(self, str(engine.url), token)

    def get(self, session: Session, key: Any, build: Callable[[], T]) -> T:
        return self.view(session).get(key, build)

    def _lookup(self, db: str, token: str, key: Any) -> tuple[bool, Any]:
        with self._lock:
            entry = self._by_db.get(db)
            if entry is None or entry.token != token:
                self._by_db[db] = _Entry(token, {})
                return False, None
            if key in entry.values:
                return True, entry.values[key]
            return False, None

    def _store(self, db: str, token: str, key: Any, value: Any) -> None:
        with self._lock:
            entry = self._by_db.get(db)
            if entry is not None and entry.token == token:
                entry.values[key] = value

    def clear(self) -> None:
        with self._lock:
            self._by_db.clear()


@dataclass(frozen=True)
class ConfigView:
    cache: ConfigCache
    db: str
    token: str | None

    def get(self, key: Any, build: Callable[[], T]) -> T:
        if self.token is None:  # no token yet: nothing could tell us when to invalidate
            return build()
        hit, value = self.cache._lookup(self.db, self.token, key)
        if hit:
            result: T = value
            return result
        built = build()
        self.cache._store(self.db, self.token, key, built)
        return built


cache = ConfigCache()
