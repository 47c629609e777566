"""Per-connection limits: a message-rate token bucket and an error window.

Plain arithmetic over the ``now`` the caller passes (seconds, any monotonic
origin); no clock is read here, so the core stays sans-I/O and tests are exact.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class TokenBucket:
    rate: float  # tokens added per second
    burst: float  # bucket size
    tokens: float = -1.0
    stamp: float = 0.0

    def take(self, now: float) -> bool:
        if self.tokens < 0:  # first use: start full
            self.tokens, self.stamp = self.burst, now
        elapsed = max(0.0, now - self.stamp)
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass(slots=True)
class ErrorWindow:
    """Counts errors in a sliding window; ``add`` says when the limit is reached."""

    limit: int
    window: float
    times: deque[float] = field(default_factory=deque)

    def add(self, now: float) -> bool:
        self.times.append(now)
        while self.times and self.times[0] <= now - self.window:
            self.times.popleft()
        return len(self.times) >= self.limit
