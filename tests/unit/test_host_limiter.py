"""The per-host rate limit of HTTP actions: each call to a host waits for the host's next
slot, ``1 / rate`` seconds after the one before. A fake clock, and a sleep that only records
how long each call would wait: no time passes, the numbers are exact."""

from __future__ import annotations

import asyncio

import pytest

from wayfare.engine.actions import HostLimiter

HOOKS = "hooks.example.com"
CRM = "crm.example.com:8443"


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000.0
        self.waits: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


def calls(limiter: HostLimiter, *hosts: str) -> None:
    """One call to each host, in order, at the fake clock's current time."""

    async def main() -> None:
        for host in hosts:
            await limiter.wait(host)

    asyncio.run(main())


def limited(rate: float) -> tuple[HostLimiter, FakeTime]:
    fake = FakeTime()
    return HostLimiter(rate, monotonic=fake.monotonic, sleep=fake.sleep), fake


def test_calls_due_at_once_go_one_slot_apart() -> None:
    limiter, fake = limited(rate=4)
    calls(limiter, *[HOOKS] * 5)
    assert fake.waits == pytest.approx([0.25, 0.5, 0.75, 1.0])


def test_each_host_has_its_own_slots() -> None:
    limiter, fake = limited(rate=4)
    calls(limiter, HOOKS, CRM, HOOKS, CRM, HOOKS)
    assert fake.waits == pytest.approx([0.25, 0.25, 0.5])


def test_a_call_waits_only_for_what_is_left_of_the_slot() -> None:
    limiter, fake = limited(rate=4)
    calls(limiter, HOOKS)
    fake.now += 0.1
    calls(limiter, HOOKS)
    assert fake.waits == pytest.approx([0.15])
    # a host left alone for longer than a slot is called at once
    fake.now += 1.0
    calls(limiter, HOOKS, HOOKS)
    assert fake.waits == pytest.approx([0.15, 0.25])


def test_a_zero_rate_means_no_limit() -> None:
    limiter, fake = limited(rate=0)
    calls(limiter, *[HOOKS] * 100)
    assert fake.waits == []
