"""Everything a request needs, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.core.clock import Clock, SystemClock
from app.core.db import make_engine, make_sessionmaker, writer
from app.core.links import Links
from app.core.ratelimit import RateLimiter
from app.core.settings import Settings
from app.core.tokens import Tokens


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    clock: Clock = field(default_factory=SystemClock)
    # Per-process caches of the domains (the rush queue's service rows), keyed by
    # domain: they live as long as this context, so tests never share them.
    memos: dict[str, object] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.engine)
        self.writer_sessions: sessionmaker[Session] = make_sessionmaker(writer(self.engine))
        self.tokens = Tokens(self.settings.effective_secret)
        # Processes of one deployment share a database, hence their counters.
        self.limiter = RateLimiter.from_url(self.settings.redis_url, self.settings.database_url)
        self.links = Links(
            tokens=self.tokens,
            base_url=self.settings.public_base_url,
            internal_base_url=self.settings.internal_base_url,
            join_opens_before=timedelta(minutes=self.settings.join_opens_before_minutes),
            join_grace_after=timedelta(minutes=self.settings.join_grace_after_minutes),
        )

    @property
    def tz(self) -> ZoneInfo:
        return self.settings.tz

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> AppContext:
        return cls(
            settings=settings,
            engine=make_engine(
                settings.database_url, lock_timeout=settings.db_lock_timeout_seconds
            ),
            clock=clock or SystemClock(),
        )
