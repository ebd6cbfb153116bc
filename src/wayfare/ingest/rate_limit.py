"""Per-inlet token buckets: messages per second with a burst allowance."""

from __future__ import annotations

import math

from wayfare.clock import Clock
from wayfare.errors import RateLimitedError


class RateLimiter:
    def __init__(self, clock: Clock, rate: float, burst: float = 0.0) -> None:
        self._clock = clock
        self._rate = rate
        self._burst = burst or rate
        self._buckets: dict[str, tuple[float, int]] = {}

    @property
    def enabled(self) -> bool:
        return self._rate > 0

    def take(self, key: str, count: int) -> None:
        """Spend ``count`` tokens of ``key``'s bucket or raise RateLimitedError."""
        if self._rate <= 0:
            return
        now = self._clock.now_ms()
        tokens, last = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate / 1000.0)
        needed = min(count, self._burst)  # a request larger than the bucket runs into debt
        if tokens < needed:
            self._buckets[key] = (tokens, now)
            raise over_rate(self._rate, (needed - tokens) / self._rate)
        self._buckets[key] = (tokens - count, now)


def over_rate(rate: float, wait_seconds: float) -> RateLimitedError:
    """429 for an inlet over ``rate``, to retry after ``wait_seconds`` (a second at least)."""
    return RateLimitedError(
        f"Too many messages: this inlet accepts {rate:g} messages per second",
        retry_after=max(1, math.ceil(wait_seconds)),
    )
