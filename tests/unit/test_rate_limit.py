"""Per-inlet token buckets, driven by a fake clock: no waiting, exact numbers."""

from __future__ import annotations

import pytest

from wayfare.clock import FakeClock
from wayfare.errors import RateLimitedError
from wayfare.ingest.rate_limit import RateLimiter


def retry_after(limiter: RateLimiter, key: str, count: int) -> int:
    with pytest.raises(RateLimitedError) as caught:
        limiter.take(key, count)
    return caught.value.retry_after


def test_a_zero_rate_means_no_limit() -> None:
    limiter = RateLimiter(FakeClock(), rate=0)
    assert not limiter.enabled
    for _ in range(1000):
        limiter.take("inlet", 1_000)


def test_a_full_bucket_allows_a_burst_then_refuses() -> None:
    limiter = RateLimiter(FakeClock(), rate=10, burst=20)
    assert limiter.enabled
    for _ in range(20):
        limiter.take("inlet", 1)
    assert retry_after(limiter, "inlet", 1) == 1


def test_without_a_burst_the_bucket_holds_one_seconds_worth() -> None:
    limiter = RateLimiter(FakeClock(), rate=5)
    limiter.take("inlet", 5)
    assert retry_after(limiter, "inlet", 1) == 1


def test_the_bucket_refills_at_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, rate=10, burst=10)
    limiter.take("inlet", 10)
    clock.advance(500)
    for _ in range(5):
        limiter.take("inlet", 1)
    assert retry_after(limiter, "inlet", 1) == 1


def test_the_bucket_never_holds_more_than_the_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, rate=10, burst=10)
    clock.advance(3_600_000)
    limiter.take("inlet", 10)
    assert retry_after(limiter, "inlet", 1) == 1


def test_retry_after_is_the_whole_seconds_until_enough_tokens() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, rate=2, burst=10)
    limiter.take("inlet", 10)
    assert retry_after(limiter, "inlet", 7) == 4  # 7 tokens at 2 per second: 3.5 s
    clock.advance(3_000)
    assert retry_after(limiter, "inlet", 7) == 1  # 6 tokens now: 0.5 s more
    clock.advance(500)
    limiter.take("inlet", 7)


def test_a_refused_request_spends_nothing() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, rate=1, burst=3)
    limiter.take("inlet", 3)
    for _ in range(5):
        assert retry_after(limiter, "inlet", 2) == 2
    clock.advance(2_000)
    limiter.take("inlet", 2)


def test_a_request_larger_than_the_bucket_passes_on_a_full_bucket_and_runs_into_debt() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, rate=5, burst=5)
    limiter.take("inlet", 12)  # 5 in the bucket, 7 owed
    assert retry_after(limiter, "inlet", 1) == 2  # 8 tokens needed at 5 per second: 1.6 s
    clock.advance(1_599)
    assert retry_after(limiter, "inlet", 1) == 1
    clock.advance(1)
    limiter.take("inlet", 1)


def test_a_request_larger_than_the_bucket_waits_for_a_full_bucket() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, rate=5, burst=5)
    limiter.take("inlet", 3)
    assert retry_after(limiter, "inlet", 50) == 1  # needs the full 5, has 2: 0.6 s
    clock.advance(600)
    limiter.take("inlet", 50)


def test_each_inlet_has_its_own_bucket() -> None:
    limiter = RateLimiter(FakeClock(), rate=1, burst=2)
    limiter.take("a", 2)
    assert retry_after(limiter, "a", 1) == 1
    limiter.take("b", 2)


def test_the_refusal_says_the_rate() -> None:
    limiter = RateLimiter(FakeClock(), rate=2.5, burst=1)
    limiter.take("inlet", 1)
    with pytest.raises(RateLimitedError, match=r"2\.5 messages per second"):
        limiter.take("inlet", 1)
