"""The event log in memory: the reference fake for fast, deterministic tests of the engine.

It behaves as the JetStream log does where tests can notice: messages are partitioned by
``partition_of(org, message.partition_key, partitions)``; positions come from one counter
for the whole log (like a stream sequence), so they increase within a partition but skip;
every entry goes through the codec, so readers get fresh objects; a msgId counts once per org
(for ever here, where JetStream remembers it for its duplicate window and the ``known``
lookup does beyond); acknowledging a position drops the partition's entries up to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Sequence

from wayfare.errors import LogError
from wayfare.log.codec import decode_slice, encode
from wayfare.log.ports import LogSlice
from wayfare.log.retries import KnownMessageIds, plan_write
from wayfare.model.partitions import partition_of
from wayfare.model.records import FirstMessage, IncomingMessage, WriteOutcome, repeat_of


class MemoryLog:
    """An EventLog of ``partitions`` lists of (position, encoded message)."""

    def __init__(self, partitions: int = 1) -> None:
        self._partitions = partitions
        self._entries: list[list[tuple[int, bytes]]] = [[] for _ in range(partitions)]
        self._last = 0
        self._msg_ids: dict[tuple[str, str], FirstMessage] = {}
        self._appended = 0
        self._seen = 0
        self._waiters: list[asyncio.Future[None]] = []

    @property
    def partitions(self) -> int:
        return self._partitions

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    def append(self, message: IncomingMessage) -> WriteOutcome:
        """Append one message (unless its msgId was appended before) and wake waiters."""
        if message.msg_id is not None:
            first = self._msg_ids.get((message.org_id, message.msg_id))
            if first is not None:
                return repeat_of(first, message)
            self._msg_ids[message.org_id, message.msg_id] = FirstMessage(
                message.xaction_id, message.digest
            )
        partition = partition_of(message.org_id, message.partition_key, self._partitions)
        self._last += 1
        self._entries[partition].append((self._last, encode(message)))
        self._appended += 1
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()
        return WriteOutcome(message.xaction_id, False)

    async def read(self, partition: int, after: int, limit: int) -> LogSlice:
        entries = [(p, data) for p, data in self._partition(partition) if p > after]
        found = decode_slice(partition, after, entries[:limit])
        return dataclasses.replace(found, more=len(entries) > limit)

    async def wait(self, seconds: float) -> None:
        if self._appended == self._seen:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, seconds)
        self._seen = self._appended

    async def acknowledge(self, partition: int, position: int) -> None:
        entries = self._partition(partition)
        entries[:] = [(p, data) for p, data in entries if p > position]

    async def release(self, partition: int) -> None:
        """Nothing is read ahead."""

    def _partition(self, partition: int) -> list[tuple[int, bytes]]:
        if not 0 <= partition < self._partitions:
            raise LogError(f"the log has no partition {partition} (it has {self._partitions})")
        return self._entries[partition]


class MemoryLogWriter:
    """The inlet's MessageWriter over a MemoryLog; ``known`` as for the NATS writer."""

    def __init__(self, log: MemoryLog, known: KnownMessageIds | None = None) -> None:
        self._log = log
        self._known = known
        self._pending = 0

    @property
    def pending(self) -> int:
        return self._pending

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def write(self, messages: Sequence[IncomingMessage]) -> list[WriteOutcome]:
        self._pending += len(messages)
        try:
            plan = await plan_write(messages, self._known)
            return plan.outcomes(messages, [self._log.append(messages[i]) for i in plan.fresh])
        finally:
            self._pending -= len(messages)
