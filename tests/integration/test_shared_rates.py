"""Inlets' rate limits shared by scaled-out HTTP processes (ingest/shared_rates.py) over
PostgreSQL's buckets (migration 0017): each process a writer of its own on a pool of its
own, as separate processes hold them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest

from tests.contract.conftest import message
from tests.postgres import PrivatePostgres
from wayfare.clock import Clock, FakeClock, SystemClock
from wayfare.errors import RateLimitedError
from wayfare.ingest.shared_rates import SharedRateWriter
from wayfare.store.memory import MemoryStore, MemoryWriter
from wayfare.store.postgres.connection import migrate, open_pool
from wayfare.store.postgres.rates import PostgresRateBuckets

pytestmark = pytest.mark.integration

T = TypeVar("T")


class Counted:
    """PostgreSQL's buckets, counting the takes that reach them."""

    def __init__(self, buckets: PostgresRateBuckets) -> None:
        self.buckets = buckets
        self.takes = 0

    def take(self, inlet_id: str, needed: float, wanted: float, rate: float, burst: float) -> float:
        self.takes += 1
        return self.buckets.take(inlet_id, needed, wanted, rate, burst)


@pytest.fixture
def buckets(pg_database: str) -> Iterator[Callable[[], Counted]]:
    opened: list[PostgresRateBuckets] = []

    def new() -> Counted:
        opened.append(PostgresRateBuckets(open_pool(pg_database, max_size=1)))
        return Counted(opened[-1])

    yield new
    for store in opened:
        store.close()


def with_writers(
    sources: list[Counted],
    rate: float,
    burst: float,
    scenario: Callable[[list[SharedRateWriter]], Awaitable[T]],
    clock: Clock | None = None,
) -> T:
    async def main() -> T:
        writers = [
            SharedRateWriter(MemoryWriter(MemoryStore()), s, clock or SystemClock(), rate, burst)
            for s in sources
        ]
        for writer in writers:
            await writer.start()
        try:
            return await scenario(writers)
        finally:
            for writer in writers:
                await writer.stop()

    return asyncio.run(main())


async def admitted(writer: SharedRateWriter, count: int = 1) -> bool:
    try:
        await writer.write([message(f"x{n}") for n in range(count)])
    except RateLimitedError:
        return False
    return True


def test_processes_take_from_one_bucket_an_inlet(buckets: Callable[[], Counted]) -> None:
    async def scenario(writers: list[SharedRateWriter]) -> int:
        accepted = 0
        for _ in range(20):  # a bucket of 10 that refills once in 100 s
            for writer in writers:
                accepted += await admitted(writer)
        return accepted

    assert with_writers([buckets(), buckets()], 0.01, 10, scenario) == 10


def test_at_a_low_rate_a_process_takes_no_token_it_may_drop(
    buckets: Callable[[], Counted],
) -> None:
    """A token held past its second is lost to every process: at 0.01 a second, for 100 s."""
    clock = FakeClock()

    async def scenario(writers: list[SharedRateWriter]) -> list[bool]:
        first, second = writers
        accepted = [await admitted(first), await admitted(second)]
        clock.advance(1_001)
        return [*accepted, await admitted(first), await admitted(second)]

    assert with_writers([buckets(), buckets()], 0.01, 3, scenario, clock) == [
        True,
        True,
        True,
        False,
    ]


def test_a_write_over_the_bucket_takes_it_full_and_leaves_it_in_debt(
    buckets: Callable[[], Counted],
) -> None:
    async def scenario(writers: list[SharedRateWriter]) -> tuple[bool, int]:
        (writer,) = writers
        big = await admitted(writer, 50)
        with pytest.raises(RateLimitedError) as refused:
            await writer.write([message("next")])
        return big, refused.value.retry_after

    big, retry_after = with_writers([buckets()], 10, 20, scenario)
    assert big
    assert retry_after >= 3  # 31 tokens short at 10 a second, less what came meanwhile


def test_tokens_are_taken_in_blocks_and_not_kept_past_a_second(
    buckets: Callable[[], Counted],
) -> None:
    clock = FakeClock()
    source = buckets()

    async def scenario(writers: list[SharedRateWriter]) -> list[int]:
        (writer,) = writers
        takes = []
        for _ in range(5):  # one take: the write's token and a block of 5 more
            assert await admitted(writer)
            takes.append(source.takes)
        clock.advance(1_001)
        assert await admitted(writer)
        takes.append(source.takes)
        return takes

    assert with_writers([source], 100, 100, scenario, clock) == [1, 1, 1, 1, 1, 2]


def test_without_postgresql_writes_are_admitted_and_it_is_said_once(
    private_postgres: PrivatePostgres, caplog: pytest.LogCaptureFixture
) -> None:
    """Each process's own limit still holds then (the inlet's), and the log has taken
    messages without PostgreSQL before."""
    migrate(private_postgres.url)
    source = PostgresRateBuckets(open_pool(private_postgres.url, timeout=1.0))
    try:
        private_postgres.kill()

        async def scenario(writers: list[SharedRateWriter]) -> list[bool]:
            return [await admitted(writers[0]) for _ in range(3)]

        with caplog.at_level(logging.WARNING, logger="wayfare.ingest.shared_rates"):
            assert with_writers([Counted(source)], 0.01, 1, scenario) == [True] * 3
    finally:
        source.close()
    warnings = [r.getMessage() for r in caplog.records if r.name == "wayfare.ingest.shared_rates"]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("inlet rates not shared (each process counts its own): ")
