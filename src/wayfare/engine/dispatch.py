"""The outbox's working set: delivering committed actions, a few at a time per host.

The outbox table is the durable copy; this holds what is being worked on. The engine hands
over each commit's new items (their ids given by the store) and, once an outcome is
committed, settles it: done, or due again later. At start, and whenever more was committed
than memory may hold, pending items are paged in from the table by id. An item stays here
from hand-over until its outcome is committed, so it is never sent twice at once; a crash in
between leaves it pending in the table, sent again after a restart with the same key.

Scaled out, the engine holds the item's partition by a lease. An item is not sent while the
lease may have lapsed (``send_until``): it waits a little and is looked at again, as the lease
is mostly renewed late rather than lost. Once the engine learns that it lost a partition
(``forget``), every item of it goes, even one in flight: that attempt's outcome is not
reported, since it could no longer be recorded under the lease it was sent under, and the
item stays pending in the table for whoever holds the partition now (this engine too, should
it take it again).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import time
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable, Collection
from urllib.parse import urlsplit

from wayfare.clock import Clock
from wayfare.engine.actions import Delivery, Sender
from wayfare.model.runs import OutboxItem
from wayfare.observability.metrics import process_metrics
from wayfare.tasks import cancel_and_wait

log = logging.getLogger(__name__)

LoadPending = Callable[[int, int], Awaitable[list[OutboxItem]]]
"""(after_id, limit) -> pending items above after_id, in id order."""
OnResult = Callable[[OutboxItem, Delivery], None]
SendUntil = Callable[[OutboxItem], float]
"""Until when (``time.monotonic()``) this engine may deliver the item: while it surely holds
the item's partition (``math.inf`` when it holds them all alone)."""
RECHECK_MS = 250
"""How long an item whose lease may have lapsed waits before it is looked at again."""


def host_of(item: OutboxItem) -> str:
    """What deliveries queue and are limited by: the URL's host, or the mail server."""
    if item.kind == "http":
        return urlsplit(str(item.request.get("url", ""))).netloc
    return item.kind


def outcome_of(delivery: Delivery) -> str:
    """How an attempt is counted: ok, retryable (failed, may be made again), failed, not_sent."""
    if not delivery.attempted:
        return "not_sent"
    if delivery.ok:
        return "ok"
    return "retryable" if delivery.retryable else "failed"


class Dispatcher:
    def __init__(
        self,
        sender: Sender,
        clock: Clock,
        load_pending: LoadPending,
        on_result: OnResult,
        *,
        per_host: int = 32,
        capacity: int = 10_000,
        send_until: SendUntil = lambda item: math.inf,
    ) -> None:
        self._sender = sender
        self._send_until = send_until
        self._clock = clock
        self._load_pending = load_pending
        self._on_result = on_result
        self._per_host = per_host
        self._capacity = capacity
        self._owned: dict[int, int] = {}
        """Outbox id -> partition of every item held, from hand-over until its outcome is
        committed (or its partition is lost)."""
        self._tenures: defaultdict[int, int] = defaultdict(int)
        """Partition -> how many times it was lost: an attempt that ends in another tenure
        than it started in has lost its partition meanwhile."""
        self._sending: Counter[int] = Counter()
        """Partition -> attempts in flight."""
        self._queues: defaultdict[str, deque[OutboxItem]] = defaultdict(deque)
        self._workers: defaultdict[str, int] = defaultdict(int)
        self._later: list[tuple[int, int, OutboxItem]] = []
        self._loaded_upto = 0
        self._backlog = True  # what a previous run left pending is read first
        self._rejected_upto = 0
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    @property
    def in_memory(self) -> int:
        return len(self._owned)

    # from the engine, after each commit (on the event loop)
    def committed(
        self,
        new: list[OutboxItem],
        finished: list[int],
        retries: list[OutboxItem],
    ) -> None:
        """A commit's new items (in id order), the ids whose final outcome it recorded, and
        the items it set to be tried again (with their attempts and next time)."""
        for outbox_id in finished:
            self._owned.pop(outbox_id, None)
        for item in retries:
            heapq.heappush(self._later, (item.next_ms, item.outbox_id, item))
        for item in new:
            if item.outbox_id <= self._loaded_upto:
                continue  # already paged in from the table
            if self._backlog or len(self._owned) >= self._capacity:
                self._backlog = True
                self._rejected_upto = max(self._rejected_upto, item.outbox_id)
                continue
            self._loaded_upto = item.outbox_id
            self._take(item)
        self._wake.set()

    def sending(self, partition: int) -> bool:
        """Whether an attempt for ``partition`` is in flight."""
        return self._sending[partition] > 0

    def drain(self, partitions: Collection[int]) -> None:
        """These partitions are being handed over: items not in flight go (they stay pending
        in the table for the next owner); attempts in flight end and are reported."""
        self._drop(set(partitions))

    def forget(self, partitions: Collection[int]) -> None:
        """This engine no longer holds these partitions: every item of them goes (whoever
        holds them now delivers them, reading them from the table). One in flight ends, but
        its outcome is not reported: it could not be recorded under the lease it was sent
        under. (Kept, an item in flight or awaiting its record when its partition was lost
        would never be sent again should the partition come back.)"""
        lost = set(partitions)
        self._drop(lost)
        for outbox_id, partition in list(self._owned.items()):
            if partition in lost:
                del self._owned[outbox_id]
        for partition in lost:
            self._tenures[partition] += 1

    def _drop(self, partitions: set[int]) -> None:
        """Items of these partitions that wait (queued, or due later) go."""
        dropped: list[OutboxItem] = []
        for queue in self._queues.values():
            kept = [item for item in queue if item.partition not in partitions]
            dropped += [item for item in queue if item.partition in partitions]
            queue.clear()
            queue.extend(kept)
        dropped += [entry[2] for entry in self._later if entry[2].partition in partitions]
        self._later = [entry for entry in self._later if entry[2].partition not in partitions]
        heapq.heapify(self._later)
        for item in dropped:
            self._owned.pop(item.outbox_id, None)

    def reload(self) -> None:
        """Partitions were gained: page in their pending items (and anything not held yet)."""
        self._loaded_upto = 0
        self._backlog = True
        self._wake.set()

    async def finish(self, grace: float) -> None:
        """Start nothing more and give attempts in flight up to ``grace`` seconds to end, so
        their outcomes can be recorded (what was not started stays pending in the table)."""
        self._closing = True
        for queue in self._queues.values():
            queue.clear()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)

    # the loop
    async def run(self) -> None:
        try:
            while True:
                if self._backlog and len(self._owned) <= self._capacity // 2:
                    await self._page_in()
                now = self._clock.now_ms()
                while self._later and self._later[0][0] <= now:
                    self._queue(heapq.heappop(self._later)[2])
                timeout = (self._later[0][0] - now) / 1000 if self._later else 1.0
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), max(timeout, 0.001))
                self._wake.clear()
        finally:
            await cancel_and_wait(*self._tasks)

    async def _page_in(self) -> None:
        room = self._capacity - len(self._owned)
        try:
            items = await self._load_pending(self._loaded_upto, room)
        except Exception:
            log.exception("reading the outbox failed; retrying")
            await asyncio.sleep(1.0)
            return
        for item in items:
            self._loaded_upto = item.outbox_id
            if item.outbox_id not in self._owned:
                self._take(item)
        # Done once the table had nothing more and nothing turned away since is unread.
        if len(items) < room and self._rejected_upto <= self._loaded_upto:
            self._backlog = False

    def _recheck(self, item: OutboxItem) -> None:
        """Its lease may have lapsed: mostly it is renewed late; else the engine learns that
        the partition is lost, and forgets the item."""
        heapq.heappush(self._later, (self._clock.now_ms() + RECHECK_MS, item.outbox_id, item))

    def _take(self, item: OutboxItem) -> None:
        self._owned[item.outbox_id] = item.partition
        if item.next_ms > self._clock.now_ms():
            heapq.heappush(self._later, (item.next_ms, item.outbox_id, item))
        else:
            self._queue(item)

    def _queue(self, item: OutboxItem) -> None:
        if self._closing:
            return
        host = host_of(item)
        self._queues[host].append(item)
        if self._workers[host] < self._per_host:
            self._workers[host] += 1
            task = asyncio.get_running_loop().create_task(self._work(host))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _work(self, host: str) -> None:
        queue = self._queues[host]
        metrics = process_metrics()
        label = metrics.host_label(host)
        try:
            while queue:
                item = queue.popleft()
                until = self._send_until(item)
                if until <= time.monotonic():
                    self._recheck(item)
                    continue
                tenure = self._tenures[item.partition]
                self._sending[item.partition] += 1
                try:
                    delivery = await self._sender.send(
                        item.kind, item.request, item.key, None if until == math.inf else until
                    )
                    metrics.deliveries.labels(outcome_of(delivery), label).inc()
                    if not delivery.attempted:
                        self._recheck(item)  # its lease may have lapsed on the way
                    elif self._tenures[item.partition] == tenure:
                        self._on_result(item, delivery)
                finally:
                    self._sending[item.partition] -= 1
        finally:
            self._workers[host] -= 1
            if not self._workers[host] and not queue:
                del self._workers[host], self._queues[host]
