"""What the HTTP processes of ``serve --workers N`` share through the hub (hub/writer.py),
over real socket pairs: each process writes through a writer of its own (the memory store's
here) what the hub admits, counted once for all processes. Every test runs with each write
asked for and with writes admitted from reservations (no rate limit: ``reservation_block``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from wayfare.clock import FakeClock
from wayfare.errors import OverloadedError, RateLimitedError, StoreError
from wayfare.hub.writer import (
    HubClient,
    HubEngine,
    HubInbox,
    HubWriter,
    LocalInbox,
    WriterHub,
    admit_all,
    reservation_block,
    socket_pair,
)
from wayfare.ingest.rate_limit import RateLimiter
from wayfare.model.events import Unmatched
from wayfare.model.matching import EventMatch
from wayfare.model.records import IncomingMessage
from wayfare.store.memory import MemoryStore, MemoryWriter


def message(
    n: int, msg_id: str | None = None, inlet: str = "inlet-1", *, invalid: bool = False
) -> IncomingMessage:
    return IncomingMessage(
        xaction_id=f"x-{n}",
        msg_id=msg_id,
        org_id="ACME@AdobeOrg",
        inlet_id=inlet,
        dataset_id="ds-1",
        schema_id="schema-1",
        received_ms=1_000 + n,
        payload=b'{"n": %d, "text": "caf\xc3\xa9"}' % n,
        reasons=b'[{"pointer": "/x"}]' if invalid else None,
        matches=[EventMatch("order", "ada@example.com", None, None)]
        if n % 3 == 0
        else [EventMatch("order", None, Unmatched.CONDITION_NOT_MET, "no")],
    )


@dataclass
class Process:
    """One HTTP process as the hub sees it: its own writer, and its clients of the hub."""

    client: HubClient
    local: MemoryWriter
    writer: HubWriter
    engine: HubEngine
    inbox: HubInbox

    async def heard(self) -> None:
        """Return once the hub has read everything this process sent before (frames on one
        socket are read in order, and this one is answered)."""
        await self.inbox.recent()


@dataclass
class Hub:
    store: MemoryStore
    served: WriterHub
    processes: list[Process]
    serving: list[asyncio.Task[None]]
    """The hub's answering of each process, in order"""
    wakes: list[int]
    block: int
    """What a process reserves at a time (0: it asks for each write)."""

    @property
    def kept(self) -> int:
        """What idle processes may keep reserved: counted as pending, written by nobody."""
        return 2 * self.block * len(self.processes)

    @property
    def first(self) -> Process:
        return self.processes[0]


Scenario = Callable[[Hub], Awaitable[None]]

pytestmark = pytest.mark.parametrize("reserving", [False, True], ids=["asking", "reserving"])


def with_hub(
    scenario: Scenario,
    reserving: bool,
    rate: float = 0.0,
    processes: int = 2,
    max_pending: int = 10,
) -> None:
    """Run ``scenario`` against a hub serving ``processes`` HTTP processes on one store; at
    most ``max_pending`` messages pending in all; each inlet may write ``rate`` messages per
    second, 3 at once (0: any number); ``reserving``: the processes admit writes from
    reservations where they may (without a rate)."""

    async def run() -> None:
        store = MemoryStore()
        wakes: list[int] = []
        limiter = RateLimiter(FakeClock(), rate=rate, burst=3)
        block = reservation_block(max_pending, processes, rate > 0) if reserving else 0
        served = WriterHub(
            admit_all(max_pending, lambda inlet, count: limiter.take(inlet, count)),
            lambda: wakes.append(1),
            LocalInbox(),
            max_pending,
        )
        serving, running = [], []
        for _ in range(processes):
            ours, theirs = socket_pair()
            serving.append(asyncio.create_task(served.serve(ours)))
            client = HubClient(theirs)
            local = MemoryWriter(store)
            process = Process(
                client,
                local,
                HubWriter(client, local, block),
                HubEngine(client),
                HubInbox(client),
            )
            await process.writer.start()
            await process.engine.start()
            running.append(process)
        try:
            await scenario(Hub(store, served, running, serving, wakes, block))
        finally:
            for process in running:
                process.local.resume()
                await process.writer.stop()
            await asyncio.wait_for(asyncio.gather(*serving), 5)

    asyncio.run(run())


def test_written_messages_come_back_committed_and_retries_as_duplicates(reserving: bool) -> None:
    async def scenario(hub: Hub) -> None:
        one, two = hub.processes
        first = await one.writer.write([message(1, "m-1"), message(2, "m-2")])
        assert [(o.xaction_id, o.duplicate) for o in first] == [("x-1", False), ("x-2", False)]
        again = await two.writer.write([message(3, "m-1")])
        assert [(o.xaction_id, o.duplicate) for o in again] == [("x-1", True)]
        assert [r.xaction_id for r in hub.store.records] == ["x-1", "x-2"]
        await one.heard()
        await two.heard()
        assert hub.served.pending <= hub.kept

    with_hub(scenario, reserving)


def test_writes_in_flight_together_are_answered_each_its_own(reserving: bool) -> None:
    async def scenario(hub: Hub) -> None:
        hub.first.local.pause()
        writes = [asyncio.create_task(hub.first.writer.write([message(n)])) for n in range(5)]
        await asyncio.sleep(0.05)
        assert hub.first.writer.pending == 5
        await hub.first.heard()
        assert hub.served.pending == 5
        hub.first.local.resume()
        outcomes = await asyncio.gather(*writes)
        assert [o[0].xaction_id for o in outcomes] == [f"x-{n}" for n in range(5)]

    with_hub(scenario, reserving)


def test_the_backlog_is_counted_for_every_http_process(reserving: bool) -> None:
    async def scenario(hub: Hub) -> None:
        one, two = hub.processes
        one.local.pause()
        waiting = asyncio.create_task(one.writer.write([message(n) for n in range(8)]))
        await asyncio.sleep(0.05)
        with pytest.raises(OverloadedError) as refused:
            await two.writer.write([message(n) for n in range(10, 13)])
        assert refused.value.retry_after == 1
        one.local.resume()
        await waiting
        await one.heard()
        await two.writer.write([message(n) for n in range(10, 13)])  # released: room again
        assert len(hub.store.records) == 11

    with_hub(scenario, reserving)


def test_what_a_process_that_went_away_held_is_no_longer_pending(reserving: bool) -> None:
    async def scenario(hub: Hub) -> None:
        one, two = hub.processes
        one.local.pause()
        held = asyncio.create_task(one.writer.write([message(n) for n in range(8)]))
        await asyncio.sleep(0.05)
        await one.heard()
        assert hub.served.pending == 8
        await one.client.stop()  # its socket closes, nothing released: as if it were killed
        await asyncio.wait_for(hub.serving[0], 5)  # the hub has read the end of it
        assert hub.served.pending <= hub.kept
        await two.writer.write([message(n) for n in range(10, 13)])
        held.cancel()

    with_hub(scenario, reserving)


def test_an_inlets_rate_is_spent_once_for_every_http_process(reserving: bool) -> None:
    async def scenario(hub: Hub) -> None:
        one, two = hub.processes
        await one.writer.write([message(1), message(2)])
        with pytest.raises(RateLimitedError) as limited:
            await two.writer.write([message(3), message(4)])
        assert limited.value.retry_after >= 1
        await two.writer.write([message(5, inlet="inlet-2")])  # another inlet's own bucket
        assert len(hub.store.records) == 3

    with_hub(scenario, reserving, rate=0.01)


def test_a_failing_write_is_a_store_error_and_no_longer_pending(reserving: bool) -> None:
    async def scenario(hub: Hub) -> None:
        await hub.first.local.stop()
        with pytest.raises(StoreError, match="not running"):
            await hub.first.writer.write([message(1)])
        await hub.first.heard()
        assert hub.served.pending <= hub.kept

    with_hub(scenario, reserving, processes=1)


def test_wakes_and_the_demo_inbox_go_through_the_hub(reserving: bool) -> None:
    async def scenario(hub: Hub) -> None:
        one, two = hub.processes
        one.engine.wake()
        assert await one.inbox.add({"body": {"n": 1}}) == 1
        assert await two.inbox.add({"body": {"n": 2}}) == 2
        assert await one.inbox.recent() == [{"body": {"n": 1}}, {"body": {"n": 2}}]
        assert hub.wakes == [1]

    with_hub(scenario, reserving)


def test_when_the_hub_goes_away_writes_fail_as_store_errors(reserving: bool) -> None:
    asyncio.run(hub_gone(8 if reserving else 0))


async def hub_gone(block: int) -> None:
    ours, theirs = socket_pair()
    store = MemoryStore()
    writer = HubWriter(HubClient(theirs), MemoryWriter(store), block)
    await writer.start()
    ours.close()
    with pytest.raises(StoreError, match="writer process"):
        await writer.write([message(1)])
    with pytest.raises(StoreError, match="writer process"):
        await writer.write([message(2)])
    assert store.records == []
    await writer.stop()


def test_a_process_writes_from_its_reservation_without_asking_each_time(
    reserving: bool,
) -> None:
    async def scenario(hub: Hub) -> None:
        one, two = hub.processes
        for n in range(5):
            await one.writer.write([message(n)])
        await one.heard()
        if hub.block:
            assert hub.block == 62
            assert hub.served.pending == hub.block  # one reservation, kept between writes
        else:
            assert hub.served.pending == 0
        one.local.pause()
        waiting = asyncio.create_task(one.writer.write([message(n) for n in range(10, 900)]))
        await asyncio.sleep(0.05)
        await one.heard()
        assert hub.served.pending == 890  # the reservation grown by what the write needed
        with pytest.raises(OverloadedError):
            await two.writer.write([message(n) for n in range(1000, 1200)])
        one.local.resume()
        await waiting
        await one.heard()
        assert hub.served.pending <= hub.kept
        await two.writer.write([message(n) for n in range(1000, 1200)])
        assert len(hub.store.records) == 5 + 890 + 200

    with_hub(scenario, reserving, max_pending=1000)


def test_a_reservation_granted_to_a_cancelled_write_is_kept_and_given_back_later(
    reserving: bool,
) -> None:
    async def scenario(hub: Hub) -> None:
        one = hub.first
        one.local.pause()
        first = asyncio.create_task(one.writer.write([message(n) for n in range(400)]))
        await asyncio.sleep(0.05)  # admitted, waiting for the paused writer
        cancelled = asyncio.create_task(one.writer.write([message(n) for n in range(400, 800)]))
        for _ in range(10_000):  # until the hub has admitted it, its answer not yet read
            if hub.served.pending >= 800:
                break
            await asyncio.sleep(0)
        assert hub.served.pending == 800
        cancelled.cancel()
        await asyncio.gather(cancelled, return_exceptions=True)
        await one.heard()
        one.local.resume()
        await first
        await one.writer.write([message(900)])
        for _ in range(100):  # what the hub granted the cancelled write comes back in time
            await one.heard()
            if hub.served.pending <= hub.kept:
                break
            await asyncio.sleep(0.01)
        assert hub.served.pending <= hub.kept

    with_hub(scenario, reserving, max_pending=1000)
