"""The hand-over of accepted messages from an HTTP process to the writer's process
(hub/writer.py), over a real socket pair, with the memory store's writer."""

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
    decode_batch,
    encode_batch,
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


def test_a_batch_crosses_byte_for_byte() -> None:
    batch = [message(n, invalid=n % 2 == 1) for n in range(7)]
    assert decode_batch(encode_batch(batch)) == batch
    assert decode_batch(encode_batch([])) == []


@dataclass
class Hub:
    store: MemoryStore
    memory: MemoryWriter
    writer: HubWriter
    engine: HubEngine
    inbox: HubInbox
    wakes: list[int]


Scenario = Callable[[Hub], Awaitable[None]]


def with_hub(scenario: Scenario, rate: float = 0.0) -> None:
    """Run ``scenario`` against a hub serving one HTTP process's client; each inlet may
    write ``rate`` messages per second, 3 at once (0: any number)."""

    async def run() -> None:
        store = MemoryStore()
        memory = MemoryWriter(store)
        await memory.start()
        wakes: list[int] = []
        limiter = RateLimiter(FakeClock(), rate=rate, burst=3)
        served = WriterHub(
            memory,
            admit_all(memory, 10, lambda inlet, count: limiter.take(inlet, count)),
            lambda: wakes.append(1),
            LocalInbox(),
        )
        ours, theirs = socket_pair()
        serving = asyncio.create_task(served.serve(ours))
        client = HubClient(theirs)
        writer, engine = HubWriter(client), HubEngine(client)
        await writer.start()
        await engine.start()
        try:
            await scenario(Hub(store, memory, writer, engine, HubInbox(client), wakes))
        finally:
            memory.resume()
            await writer.stop()
            await asyncio.wait_for(serving, 5)

    asyncio.run(run())


def test_written_messages_come_back_committed_and_retries_as_duplicates() -> None:
    async def scenario(hub: Hub) -> None:
        first = await hub.writer.write([message(1, "m-1"), message(2, "m-2")])
        assert [(o.xaction_id, o.duplicate) for o in first] == [("x-1", False), ("x-2", False)]
        again = await hub.writer.write([message(3, "m-1")])
        assert [(o.xaction_id, o.duplicate) for o in again] == [("x-1", True)]
        assert [r.xaction_id for r in hub.store.records] == ["x-1", "x-2"]
        assert hub.writer.pending == 0

    with_hub(scenario)


def test_writes_in_flight_together_are_answered_each_its_own() -> None:
    async def scenario(hub: Hub) -> None:
        hub.memory.pause()
        writes = [asyncio.create_task(hub.writer.write([message(n)])) for n in range(5)]
        await asyncio.sleep(0.05)
        assert hub.writer.pending == 5
        hub.memory.resume()
        outcomes = await asyncio.gather(*writes)
        assert [o[0].xaction_id for o in outcomes] == [f"x-{n}" for n in range(5)]

    with_hub(scenario)


def test_the_writers_backlog_is_counted_for_every_http_process() -> None:
    async def scenario(hub: Hub) -> None:
        hub.memory.pause()
        waiting = asyncio.create_task(hub.writer.write([message(n) for n in range(8)]))
        await asyncio.sleep(0.05)
        with pytest.raises(OverloadedError) as refused:
            await hub.writer.write([message(n) for n in range(10, 13)])
        assert refused.value.retry_after == 1
        hub.memory.resume()
        await waiting
        assert len(hub.store.records) == 8

    with_hub(scenario)


def test_an_inlets_rate_is_spent_once_for_every_http_process() -> None:
    async def scenario(hub: Hub) -> None:
        await hub.writer.write([message(1), message(2)])
        with pytest.raises(RateLimitedError) as limited:
            await hub.writer.write([message(3), message(4)])
        assert limited.value.retry_after >= 1
        await hub.writer.write([message(5, inlet="inlet-2")])  # another inlet's own bucket
        assert len(hub.store.records) == 3

    with_hub(scenario, rate=0.01)


def test_a_failing_store_is_a_store_error_in_the_http_process() -> None:
    async def scenario(hub: Hub) -> None:
        await hub.memory.stop()
        with pytest.raises(StoreError, match="not running"):
            await hub.writer.write([message(1)])

    with_hub(scenario)


def test_wakes_and_the_demo_inbox_go_through_the_hub() -> None:
    async def scenario(hub: Hub) -> None:
        hub.engine.wake()
        assert await hub.inbox.add({"body": {"n": 1}}) == 1
        assert await hub.inbox.add({"body": {"n": 2}}) == 2
        assert await hub.inbox.recent() == [{"body": {"n": 1}}, {"body": {"n": 2}}]
        assert hub.wakes == [1]

    with_hub(scenario)


def test_when_the_hub_goes_away_writes_fail_as_store_errors() -> None:
    asyncio.run(hub_gone())


async def hub_gone() -> None:
    ours, theirs = socket_pair()
    client = HubClient(theirs)
    writer = HubWriter(client)
    await writer.start()
    ours.close()
    with pytest.raises(StoreError, match="writer process"):
        await writer.write([message(1)])
    with pytest.raises(StoreError, match="writer process"):
        await writer.write([message(2)])
    await writer.stop()
