"""The counter's settings: a view of the ``counter_*`` fields of the core
``Settings`` (environment ``MADOGUCHI_COUNTER_*``), validated there once,
and the routing policy they make."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from app.core.settings import Settings
from scheduler.routing import RoutingPolicy


@dataclass(frozen=True, slots=True)
class CounterSettings:
    offer_timeout_seconds: int
    reoffer_after_seconds: int
    escalate_after_minutes: int
    recent_calls: int
    default_talk_minutes: int
    presence_timeout_seconds: int

    @classmethod
    def of(cls, settings: Settings) -> CounterSettings:
        return cls(
            offer_timeout_seconds=settings.counter_offer_timeout_seconds,
            reoffer_after_seconds=settings.counter_reoffer_after_seconds,
            escalate_after_minutes=settings.counter_escalate_after_minutes,
            recent_calls=settings.counter_recent_calls,
            default_talk_minutes=settings.counter_default_talk_minutes,
            presence_timeout_seconds=settings.counter_presence_timeout_seconds,
        )

    def policy(self) -> RoutingPolicy:
        return RoutingPolicy(
            offer_timeout=timedelta(seconds=self.offer_timeout_seconds),
            escalate_after=timedelta(minutes=self.escalate_after_minutes),
            reoffer_after=timedelta(seconds=self.reoffer_after_seconds),
        )
