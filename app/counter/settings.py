"""Walk-in queue and routing settings (``MADOGUCHI_COUNTER_*``)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from scheduler.routing import (
    RoutingPolicy,
)


class CounterSettings(BaseSettings):
    """Walk-in queue and routing settings (``MADOGUCHI_COUNTER_*``)."""

    model_config = SettingsConfigDict(env_prefix="MADOGUCHI_COUNTER_", extra="ignore")

    # An offer rings this long; unanswered, it goes to the next staff member.
    offer_timeout_seconds: int = Field(default=20, ge=5, le=300)
    # Who declined a call (or let it ring out) is asked again, when nobody else
    # qualified is free, only this long after.
    reoffer_after_seconds: int = Field(default=60, ge=0, le=3600)
    # A call waiting longer than this shows as escalated on the supervisor view.
    escalate_after_minutes: int = Field(default=10, ge=1, le=240)
    # The wait estimate uses the median talk time of this many recent calls.
    recent_calls: int = Field(default=20, ge=1, le=500)
    # ... or this, before any call was finished.
    default_talk_minutes: int = Field(default=8, ge=1, le=120)
    # A console (or call page) that has not polled for this long counts as
    # offline: nothing rings at a closed browser.
    presence_timeout_seconds: int = Field(default=60, ge=10, le=3600)

    def policy(self) -> RoutingPolicy:
        return RoutingPolicy(
            offer_timeout=timedelta(seconds=self.offer_timeout_seconds),
            escalate_after=timedelta(minutes=self.escalate_after_minutes),
            reoffer_after=timedelta(seconds=self.reoffer_after_seconds),
        )


def counter_settings(request: Request) -> CounterSettings:
    settings: CounterSettings | None = getattr(request.app.state, "counter_settings", None)
    if settings is None:
        settings = CounterSettings()
        request.app.state.counter_settings = settings
    return settings
