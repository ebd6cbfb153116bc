"""The outbox's working set: what is sent, when, how many at once, and what stays in memory.

The dispatcher runs on the event loop against a fake sender (which records every call and can
hold calls to a host until released), a fake outbox table (what ``load_pending`` pages in) and
a fake clock. Nothing sleeps: waits poll the loop with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import msgspec

from wayfare.clock import FakeClock
from wayfare.engine.actions import NOT_SENT, Delivery
from wayfare.engine.dispatch import RECHECK_MS, Dispatcher
from wayfare.model.runs import OutboxItem
from wayfare.observability.metrics import process_metrics

T0 = 1_700_000_000_000


def item(
    outbox_id: int,
    *,
    url: str = "https://hooks.example.com/a",
    kind: str = "http",
    next_ms: int = 0,
    attempts: int = 0,
    partition: int = 0,
) -> OutboxItem:
    request: dict[str, Any] = {"url": url} if kind == "http" else {"to": "ada@example.com"}
    return OutboxItem(
        outbox_id=outbox_id,
        instance_id=f"inst-{outbox_id}",
        node="notify",
        token=1,
        kind=kind,
        request=request,
        key=f"inst-{outbox_id}:notify",
        attempts=attempts,
        next_ms=next_ms,
        partition=partition,
    )


def host(kind: str, request: dict[str, Any]) -> str:
    return urlsplit(str(request["url"])).netloc if kind == "http" else kind


@dataclass
class FakeSender:
    """Records each call; calls to a host in ``held`` wait until it is released."""

    calls: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    in_flight: Counter[str] = field(default_factory=Counter)
    most_in_flight: Counter[str] = field(default_factory=Counter)
    held: dict[str, asyncio.Event] = field(default_factory=dict)

    def hold(self, name: str) -> None:
        self.held[name] = asyncio.Event()

    def release(self, name: str) -> None:
        self.held.pop(name).set()

    @property
    def keys(self) -> list[str]:
        return [key for _, _, key in self.calls]

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(
        self, kind: str, request: dict[str, Any], key: str, not_after: float | None = None
    ) -> Delivery:
        name = host(kind, request)
        self.calls.append((kind, request, key))
        self.in_flight[name] += 1
        self.most_in_flight[name] = max(self.most_in_flight[name], self.in_flight[name])
        try:
            gate = self.held.get(name)
            if gate is not None:
                await gate.wait()
        finally:
            self.in_flight[name] -= 1
        return Delivery(True, {"sent": key})


@dataclass
class FakeOutbox:
    """The outbox table: pending items by id, and every read of it."""

    pending: dict[int, OutboxItem] = field(default_factory=dict)
    reads: list[tuple[int, int]] = field(default_factory=list)
    slow: asyncio.Event | None = None
    """When set, a read sees the table as it was when it began, and returns only once this
    event is set: commits can land meanwhile."""

    def add(self, *items: OutboxItem) -> list[OutboxItem]:
        for i in items:
            self.pending[i.outbox_id] = i
        return list(items)

    def finish(self, *ids: int) -> list[int]:
        for i in ids:
            del self.pending[i]
        return list(ids)

    async def load_pending(self, after_id: int, limit: int) -> list[OutboxItem]:
        self.reads.append((after_id, limit))
        found = [self.pending[i] for i in sorted(self.pending) if i > after_id][:limit]
        if self.slow is not None:
            await self.slow.wait()
        return found


@dataclass
class Rig:
    dispatcher: Dispatcher
    sender: FakeSender
    outbox: FakeOutbox
    clock: FakeClock
    results: list[tuple[OutboxItem, Delivery]]

    def wake(self) -> None:
        """The dispatcher only reads the fake clock when it wakes up."""
        self.dispatcher.committed([], [], [])


@contextlib.asynccontextmanager
async def running(
    outbox: FakeOutbox | None = None,
    *,
    sender: FakeSender | None = None,
    per_host: int = 32,
    capacity: int = 10_000,
    send_until: Callable[[OutboxItem], float] = lambda item: math.inf,
) -> AsyncIterator[Rig]:
    """A dispatcher running on the loop, stopped on the way out."""
    sender = sender or FakeSender()
    table = outbox or FakeOutbox()
    clock = FakeClock(T0)
    results: list[tuple[OutboxItem, Delivery]] = []
    dispatcher = Dispatcher(
        sender,
        clock,
        table.load_pending,
        lambda i, d: results.append((i, d)),
        per_host=per_host,
        capacity=capacity,
        send_until=send_until,
    )
    task = asyncio.create_task(dispatcher.run())
    try:
        yield Rig(dispatcher, sender, table, clock, results)
    finally:
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2)
        assert done, "the dispatcher did not stop"


async def until(predicate: Callable[[], bool], within: float = 2.0) -> None:
    """Let the loop run until ``predicate`` holds, or fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0)


async def settle(turns: int = 50) -> None:
    """Give every ready task many turns of the loop; no time passes on the clock."""
    for _ in range(turns):
        await asyncio.sleep(0)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), timeout=10))


# start: paging in what a previous run left pending


def test_pending_items_are_paged_in_at_start_and_sent_when_due() -> None:
    async def scenario() -> None:
        table = FakeOutbox()
        table.add(item(1), item(2, next_ms=T0), item(3, next_ms=T0 + 60_000), item(4))
        async with running(table) as rig:
            await until(lambda: len(rig.sender.calls) == 3)
            await settle()
            assert rig.outbox.reads == [(0, 10_000)]
            assert sorted(rig.sender.keys) == ["inst-1:notify", "inst-2:notify", "inst-4:notify"]

            rig.clock.advance(59_999)
            rig.wake()
            await settle()
            assert len(rig.sender.calls) == 3

            rig.clock.advance(1)
            rig.wake()
            await until(lambda: len(rig.sender.calls) == 4)
            assert rig.sender.keys[-1] == "inst-3:notify"
            assert rig.dispatcher.in_memory == 4

    run(scenario)


# hand-over from the engine


def test_committed_items_are_sent_once_each_with_their_key() -> None:
    async def scenario() -> None:
        async with running() as rig:
            await until(lambda: rig.outbox.reads == [(0, 10_000)])
            new = rig.outbox.add(item(1), item(2, kind="email"), item(3))
            rig.dispatcher.committed(new, [], [])
            await until(lambda: len(rig.results) == 3)
            await settle()
            assert sorted(rig.sender.calls, key=lambda c: c[2]) == [
                ("http", {"url": "https://hooks.example.com/a"}, "inst-1:notify"),
                ("email", {"to": "ada@example.com"}, "inst-2:notify"),
                ("http", {"url": "https://hooks.example.com/a"}, "inst-3:notify"),
            ]
            assert rig.dispatcher.in_memory == 3
            assert rig.outbox.reads == [(0, 10_000)]

    run(scenario)


def test_an_item_already_paged_in_is_not_sent_again_when_handed_over() -> None:
    async def scenario() -> None:
        table = FakeOutbox()
        table.add(item(1), item(2), item(3))
        async with running(table) as rig:
            await until(lambda: len(rig.sender.calls) == 3)
            # the commit of 3 and 4 reached the table before the page-in read it (3 only)
            new = rig.outbox.add(item(3), item(4))
            rig.dispatcher.committed(new, [], [])
            await until(lambda: len(rig.sender.calls) == 4)
            await settle()
            assert Counter(rig.sender.keys) == {
                "inst-1:notify": 1,
                "inst-2:notify": 1,
                "inst-3:notify": 1,
                "inst-4:notify": 1,
            }

    run(scenario)


def test_items_handed_over_before_the_first_page_in_are_read_from_the_table_once() -> None:
    async def scenario() -> None:
        table = FakeOutbox()
        table.add(item(1))
        async with running(table) as rig:
            # no turn of the loop yet: the dispatcher has not read the table
            rig.dispatcher.committed(rig.outbox.add(item(2), item(3)), [], [])
            await until(lambda: len(rig.sender.calls) == 3)
            await settle()
            assert sorted(rig.sender.keys) == ["inst-1:notify", "inst-2:notify", "inst-3:notify"]

    run(scenario)


def test_an_item_handed_over_while_the_table_is_read_is_not_lost() -> None:
    async def scenario() -> None:
        table = FakeOutbox(slow=asyncio.Event())
        table.add(item(1))
        async with running(table) as rig:
            await until(lambda: rig.outbox.reads == [(0, 10_000)])
            # item 2 is committed after the read began: that read will not return it
            rig.dispatcher.committed(rig.outbox.add(item(2)), [], [])
            assert table.slow is not None
            table.slow.set()
            await until(lambda: len(rig.results) == 2)
            await settle()
            assert rig.outbox.reads[:2] == [(0, 10_000), (1, 9_999)]
            assert Counter(rig.sender.keys) == {"inst-1:notify": 1, "inst-2:notify": 1}

    run(scenario)


# per host


def test_at_most_per_host_sends_run_at_once_and_hosts_do_not_wait_on_each_other() -> None:
    async def scenario() -> None:
        async with running(per_host=2) as rig:
            await until(lambda: rig.outbox.reads == [(0, 10_000)])
            rig.sender.hold("slow.example.com")
            slow = [item(i, url=f"https://slow.example.com/hook/{i}") for i in range(1, 6)]
            fast = [item(i, url="https://fast.example.com:8443/x") for i in range(6, 9)]
            mail = [item(i, kind="email") for i in range(9, 12)]
            rig.dispatcher.committed(rig.outbox.add(*slow, *fast, *mail), [], [])

            await until(lambda: len(rig.results) == 6)
            await settle()
            assert rig.sender.in_flight["slow.example.com"] == 2
            done = sorted(i.outbox_id for i, _ in rig.results)
            assert done == [6, 7, 8, 9, 10, 11]
            assert len(rig.sender.calls) == 8

            rig.sender.release("slow.example.com")
            await until(lambda: len(rig.results) == 11)
            assert rig.sender.most_in_flight["slow.example.com"] == 2
            assert sorted(Counter(rig.sender.keys).values()) == [1] * 11

    run(scenario)


def test_a_host_is_limited_by_its_netloc_not_its_path() -> None:
    async def scenario() -> None:
        async with running(per_host=1) as rig:
            await until(lambda: rig.outbox.reads == [(0, 10_000)])
            rig.sender.hold("api.example.com")
            rig.sender.hold("api.example.com:8080")
            new = [
                item(1, url="https://api.example.com/a"),
                item(2, url="https://api.example.com/b?x=1"),
                item(3, url="https://api.example.com:8080/a"),
            ]
            rig.dispatcher.committed(rig.outbox.add(*new), [], [])
            await until(lambda: len(rig.sender.calls) == 2)
            await settle()
            assert sorted(rig.sender.keys) == ["inst-1:notify", "inst-3:notify"]

            rig.sender.release("api.example.com")
            await until(lambda: len(rig.sender.calls) == 3)
            assert rig.sender.keys[-1] == "inst-2:notify"

    run(scenario)


# capacity


def test_beyond_capacity_items_stay_in_the_table_until_memory_is_under_half() -> None:
    async def scenario() -> None:
        async with running(capacity=4) as rig:
            await until(lambda: rig.outbox.reads == [(0, 4)])
            rig.sender.hold("hooks.example.com")
            new = rig.outbox.add(*(item(i) for i in range(1, 11)))
            rig.dispatcher.committed(new, [], [])
            assert rig.dispatcher.in_memory == 4

            await until(lambda: len(rig.sender.calls) == 4)
            rig.sender.release("hooks.example.com")
            await until(lambda: len(rig.results) == 4)
            await settle()
            # sent, but no outcome committed yet: still held, and nothing more read
            assert rig.dispatcher.in_memory == 4
            assert rig.outbox.reads == [(0, 4)]
            assert sorted(rig.sender.keys) == [f"inst-{i}:notify" for i in (1, 2, 3, 4)]

            rig.dispatcher.committed([], rig.outbox.finish(1), [])
            await settle()
            assert rig.dispatcher.in_memory == 3
            assert rig.outbox.reads == [(0, 4)]

            rig.dispatcher.committed([], rig.outbox.finish(2), [])
            await until(lambda: len(rig.results) == 6)
            assert rig.outbox.reads == [(0, 4), (4, 2)]
            assert sorted(rig.sender.keys[4:]) == ["inst-5:notify", "inst-6:notify"]
            assert rig.dispatcher.in_memory == 4

            rig.dispatcher.committed([], rig.outbox.finish(3, 4), [])
            await until(lambda: len(rig.results) == 8)
            rig.dispatcher.committed([], rig.outbox.finish(5, 6), [])
            await until(lambda: len(rig.results) == 10)
            assert rig.dispatcher.in_memory == 4
            rig.dispatcher.committed([], rig.outbox.finish(7, 8), [])
            await until(lambda: len(rig.outbox.reads) == 5)
            rig.dispatcher.committed([], rig.outbox.finish(9, 10), [])
            await settle()

            assert rig.outbox.reads == [(0, 4), (4, 2), (6, 2), (8, 2), (10, 2)]
            assert rig.dispatcher.in_memory == 0
            assert Counter(rig.sender.keys) == {f"inst-{i}:notify": 1 for i in range(1, 11)}

    run(scenario)


def test_once_the_backlog_is_read_new_items_are_taken_from_the_hand_over() -> None:
    async def scenario() -> None:
        async with running(capacity=2) as rig:
            await until(lambda: rig.outbox.reads == [(0, 2)])
            rig.sender.hold("hooks.example.com")
            rig.dispatcher.committed(rig.outbox.add(item(1), item(2)), [], [])
            rig.dispatcher.committed(rig.outbox.add(item(3)), [], [])
            rig.dispatcher.committed(rig.outbox.add(item(4)), [], [])
            assert rig.dispatcher.in_memory == 2
            rig.sender.release("hooks.example.com")
            await until(lambda: len(rig.results) == 2)
            await settle()
            assert sorted(rig.sender.keys) == ["inst-1:notify", "inst-2:notify"]

            rig.dispatcher.committed([], rig.outbox.finish(1, 2), [])
            await until(lambda: len(rig.results) == 4)
            assert rig.outbox.reads == [(0, 2), (2, 2)]

            rig.dispatcher.committed([], rig.outbox.finish(3, 4), [])
            await until(lambda: rig.outbox.reads == [(0, 2), (2, 2), (4, 2)])
            rig.dispatcher.committed(rig.outbox.add(item(5)), [], [])
            await until(lambda: len(rig.results) == 5)
            await settle()
            assert rig.outbox.reads == [(0, 2), (2, 2), (4, 2)]
            assert Counter(rig.sender.keys) == {f"inst-{i}:notify": 1 for i in range(1, 6)}
            assert rig.dispatcher.in_memory == 1

    run(scenario)


# retries


def test_a_retry_is_sent_again_when_its_time_comes_not_before() -> None:
    async def scenario() -> None:
        async with running() as rig:
            await until(lambda: rig.outbox.reads == [(0, 10_000)])
            first = item(1)
            rig.dispatcher.committed(rig.outbox.add(first), [], [])
            await until(lambda: len(rig.results) == 1)

            again = msgspec.structs.replace(first, attempts=1, next_ms=T0 + 30_000)
            rig.dispatcher.committed([], [], [again])
            await settle()
            rig.clock.advance(29_999)
            rig.wake()
            await settle()
            assert len(rig.sender.calls) == 1

            rig.clock.advance(1)
            rig.wake()
            await until(lambda: len(rig.results) == 2)
            assert rig.sender.keys == ["inst-1:notify", "inst-1:notify"]
            assert rig.results[1][0] == again
            assert rig.results[1][0].attempts == 1
            assert rig.dispatcher.in_memory == 1

    run(scenario)


def test_retries_come_due_in_time_order() -> None:
    async def scenario() -> None:
        async with running() as rig:
            await until(lambda: rig.outbox.reads == [(0, 10_000)])
            rig.dispatcher.committed(rig.outbox.add(item(1), item(2)), [], [])
            await until(lambda: len(rig.results) == 2)
            retries = [
                msgspec.structs.replace(item(1), attempts=1, next_ms=T0 + 20_000),
                msgspec.structs.replace(item(2), attempts=1, next_ms=T0 + 10_000),
            ]
            rig.dispatcher.committed([], [], retries)
            rig.clock.advance(10_000)
            rig.wake()
            await until(lambda: len(rig.results) == 3)
            await settle()
            assert rig.sender.keys[2:] == ["inst-2:notify"]

            rig.clock.advance(10_000)
            rig.wake()
            await until(lambda: len(rig.results) == 4)
            assert rig.sender.keys[2:] == ["inst-2:notify", "inst-1:notify"]

    run(scenario)


# results


def test_every_result_goes_to_on_result_with_its_item() -> None:
    outcomes = {
        "inst-1:notify": Delivery(True, {"id": 1}),
        "inst-2:notify": Delivery(False, {"text": "nope"}, "HTTP 500", retryable=True),
        "inst-3:notify": Delivery(False, error="recipient refused: x"),
    }

    class Scripted(FakeSender):
        async def send(
            self, kind: str, request: dict[str, Any], key: str, not_after: float | None = None
        ) -> Delivery:
            await super().send(kind, request, key)
            return outcomes[key]

    async def scenario() -> None:
        async with running(sender=Scripted()) as rig:
            await until(lambda: rig.outbox.reads == [(0, 10_000)])
            new = rig.outbox.add(
                item(1), item(2, url="https://b.example.com/"), item(3, kind="email")
            )
            rig.dispatcher.committed(new, [], [])
            await until(lambda: len(rig.results) == 3)
            await settle()
            assert sorted(rig.results, key=lambda r: r[0].outbox_id) == [
                (new[0], outcomes["inst-1:notify"]),
                (new[1], outcomes["inst-2:notify"]),
                (new[2], outcomes["inst-3:notify"]),
            ]

    run(scenario)


def test_stopping_the_dispatcher_cancels_the_sends_in_flight() -> None:
    async def scenario() -> None:
        table = FakeOutbox()
        table.add(item(1), item(2))
        sender = FakeSender()
        sender.hold("hooks.example.com")
        async with running(table, sender=sender) as rig:
            await until(lambda: rig.sender.in_flight["hooks.example.com"] == 2)
        # never released: the sends were cancelled when the dispatcher stopped
        assert not sender.held["hooks.example.com"].is_set()
        assert sender.in_flight["hooks.example.com"] == 0
        assert len(sender.calls) == 2

    run(scenario)


def test_finishing_lets_sends_in_flight_end_and_starts_no_more() -> None:
    async def scenario() -> None:
        sender = FakeSender()
        async with running(sender=sender, per_host=2) as rig:
            await until(lambda: rig.outbox.reads == [(0, 10_000)])
            sender.hold("hooks.example.com")
            rig.dispatcher.committed(rig.outbox.add(*(item(i) for i in range(1, 6))), [], [])
            await until(lambda: len(sender.calls) == 2)
            finishing = asyncio.create_task(rig.dispatcher.finish(grace=5))
            await settle()
            assert not finishing.done()  # waits for the two in flight
            sender.release("hooks.example.com")
            await asyncio.wait_for(finishing, 2)
            assert sorted(i.outbox_id for i, _ in rig.results) == [1, 2]
            # what was queued and not started is left for the table (a later run)
            rig.dispatcher.committed(rig.outbox.add(item(6)), [], [])
            await settle()
            assert len(sender.calls) == 2

    run(scenario)


def test_finishing_gives_up_on_sends_after_the_grace_period() -> None:
    async def scenario() -> None:
        sender = FakeSender()
        async with running(sender=sender) as rig:
            await until(lambda: rig.outbox.reads == [(0, 10_000)])
            sender.hold("hooks.example.com")
            rig.dispatcher.committed(rig.outbox.add(item(1)), [], [])
            await until(lambda: len(sender.calls) == 1)
            started = time.monotonic()
            await rig.dispatcher.finish(grace=0.2)
            assert 0.15 < time.monotonic() - started < 2
            assert rig.results == []

    run(scenario)


# partitions held by lease (scaled out)


def test_an_item_whose_lease_may_have_lapsed_is_sent_once_the_lease_is_renewed() -> None:
    async def scenario() -> None:
        valid = {0: False}
        async with running(send_until=lambda i: math.inf if valid[i.partition] else 0.0) as rig:
            await until(lambda: rig.outbox.reads == [(0, 10_000)])
            rig.dispatcher.committed(rig.outbox.add(item(1)), [], [])
            await settle()
            assert rig.sender.calls == []  # not while the lease may have lapsed

            valid[0] = True  # renewed, under the same epoch: nothing was lost
            rig.clock.advance(RECHECK_MS)
            rig.wake()
            await until(lambda: len(rig.results) == 1)
            assert rig.sender.keys == ["inst-1:notify"]
            assert rig.outbox.reads == [(0, 10_000)]  # kept, not read again

    run(scenario)


def test_a_lost_partition_takes_its_items_along_even_in_flight_and_they_come_back_with_it() -> None:
    async def scenario() -> None:
        sender = FakeSender()
        async with running(sender=sender, per_host=1) as rig:
            await until(lambda: rig.outbox.reads == [(0, 10_000)])
            sender.hold("hooks.example.com")
            sender.hold("b.example.com")
            new = rig.outbox.add(
                item(1, partition=3),
                item(2, partition=5, url="https://b.example.com/"),
                item(3, partition=3),
            )
            rig.dispatcher.committed(new, [], [])
            await until(lambda: len(sender.calls) == 2)  # 1 and 2 in flight, 3 queued

            rig.dispatcher.forget([3])
            sender.release("hooks.example.com")
            sender.release("b.example.com")
            await until(lambda: len(rig.results) == 1)
            await settle()
            # The outcome of 1 could not be recorded under the lease it was sent under: it
            # is not reported. 3 was never sent. 2, of a partition still held, went on.
            assert [i.outbox_id for i, _ in rig.results] == [2]
            assert sorted(sender.keys) == ["inst-1:notify", "inst-2:notify"]
            assert rig.dispatcher.in_memory == 1

            rig.dispatcher.reload()  # partition 3 is held again: its items come back
            await until(lambda: len(rig.results) == 3)
            assert sorted(i.outbox_id for i, _ in rig.results) == [1, 2, 3]
            assert sorted(sender.keys) == [
                "inst-1:notify",
                "inst-1:notify",
                "inst-2:notify",
                "inst-3:notify",
            ]

    run(scenario)


def test_a_partition_handed_over_lets_its_sends_in_flight_end_and_report_and_drops_the_rest() -> (
    None
):
    async def scenario() -> None:
        sender = FakeSender()
        async with running(sender=sender, per_host=1) as rig:
            await until(lambda: rig.outbox.reads == [(0, 10_000)])
            sender.hold("hooks.example.com")
            new = rig.outbox.add(item(1, partition=3), item(2, partition=3))
            rig.dispatcher.committed(new, [], [])
            await until(lambda: len(sender.calls) == 1)  # 1 in flight, 2 queued
            assert rig.dispatcher.sending(3) and not rig.dispatcher.sending(5)

            rig.dispatcher.drain([3])
            sender.release("hooks.example.com")
            await until(lambda: len(rig.results) == 1)
            await settle()
            # 1 was in flight: it ends and is reported, to be recorded under the lease
            # still held. 2 was waiting: it stays in the table for the partition's next
            # owner, and is not sent here.
            assert [i.outbox_id for i, _ in rig.results] == [1]
            assert sender.keys == ["inst-1:notify"]
            assert not rig.dispatcher.sending(3)

    run(scenario)


def test_an_attempt_not_made_because_its_time_had_passed_is_looked_at_again_not_reported() -> None:
    async def scenario() -> None:
        sender = LateSender()
        async with running(sender=sender) as rig:
            await until(lambda: rig.outbox.reads == [(0, 10_000)])
            rig.dispatcher.committed(rig.outbox.add(item(1)), [], [])
            await until(lambda: sender.refused == 1)
            await settle()
            assert rig.results == []  # nothing to record: no attempt was made

            rig.clock.advance(RECHECK_MS)
            rig.wake()
            await until(lambda: len(rig.results) == 1)
            assert sender.keys == ["inst-1:notify"]

    run(scenario)


@dataclass
class LateSender(FakeSender):
    """Its first call comes too late to be made (as the courier answers then)."""

    refused: int = 0

    async def send(
        self, kind: str, request: dict[str, Any], key: str, not_after: float | None = None
    ) -> Delivery:
        if not self.refused:
            self.refused += 1
            return NOT_SENT
        return await super().send(kind, request, key, not_after)


# metrics


def test_each_attempt_is_counted_by_outcome_and_host() -> None:
    registry = process_metrics().registry

    def counted(host_name: str) -> float:
        labels = {"outcome": "ok", "host": host_name}
        return registry.get_sample_value("wayfare_deliveries_total", labels) or 0.0

    async def scenario() -> None:
        before = counted("counted.example")
        table = FakeOutbox()
        table.add(
            item(1, url="https://counted.example/a"), item(2, url="https://counted.example/b")
        )
        async with running(table) as rig:
            await until(lambda: len(rig.results) == 2)
        assert counted("counted.example") - before == 2

    run(scenario)
