"""The event log on NATS JetStream, as journey workers read it (the inlet writes it through
``nats_writer.NatsWriter``; the stream and its settings are ``jetstream.py``'s).

Positions are JetStream stream sequences: they increase within a partition and skip the
other partitions' entries.

Reading: a push consumer per partition the worker reads, delivering into a buffer
(``nats_reader.py``), rather than pull consumers. A pull costs a round trip per read and
leaves ``wait`` without a way to hear of new entries short of a second, lingering pull per
partition; the push consumer streams entries as they are stored, ``read`` hands out what is
buffered, and ``wait`` is woken by the deliveries themselves. A partition is owned from its
first read until ``release``.

Retention: ``acknowledge`` purges the partition's subject up to the position (at most once a
second per partition; ``stop`` purges what is left), and nothing else ever drops an entry: the
stream has no age, count or size limit, so what no worker committed stays, however long the
workers are away. Limits with a max age would drop a backlog older than the age, committed
or not. A purge does not forget msgIds: JetStream's duplicate window still answers retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time

from nats.aio.client import Client
from nats.js import JetStreamContext

from wayfare.errors import LogError
from wayfare.log.codec import decode_slice
from wayfare.log.jetstream import NatsSettings, connect, log_errors, prepare_stream
from wayfare.log.nats_reader import PartitionReader
from wayfare.log.nats_writer import NatsWriter
from wayfare.log.ports import LogSlice

__all__ = ["NatsEventLog", "NatsSettings", "NatsWriter"]

log = logging.getLogger(__name__)

PURGE_INTERVAL = 1.0


class NatsEventLog:
    """EventLog over the stream ``settings`` names (created if missing, never changed)."""

    def __init__(self, settings: NatsSettings) -> None:
        self._settings = settings
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._partitions = settings.partitions
        self._readers: dict[int, PartitionReader] = {}
        self._news = asyncio.Event()
        self._acknowledged: dict[int, int] = {}
        self._purged: dict[int, tuple[int, float]] = {}

    @property
    def partitions(self) -> int:
        return self._partitions

    async def start(self) -> None:
        self._client = await connect(self._settings, reconnected=self._reconnected)
        self._js = self._client.jetstream(timeout=self._settings.timeout)
        try:
            config = await prepare_stream(self._js, self._settings)
        except LogError:
            await self.stop()
            raise
        self._partitions = len(config.subjects or ())

    async def stop(self) -> None:
        if self._js is not None:
            for partition in list(self._acknowledged):
                with contextlib.suppress(LogError):
                    await self._purge(partition)
        for reader in self._readers.values():
            await reader.stop()
        self._readers.clear()
        client, self._client, self._js = self._client, None, None
        if client is not None:
            await client.close()
        self._news.set()

    async def read(self, partition: int, after: int, limit: int) -> LogSlice:
        """Entries after ``after``; ``more`` when the read took its limit or left some in
        the reader's buffer (else ``wait`` wakes when the consumer delivers the next)."""
        reader = self._reader(partition)
        entries = await reader.read(after, limit)
        found = decode_slice(partition, after, entries)
        return dataclasses.replace(found, more=len(entries) >= limit or reader.has_entries)

    async def wait(self, seconds: float) -> None:
        """Return when a partition read since ``start`` has entries buffered, or a reader must
        re-create its consumer while the client is connected (after a reconnection, a missed
        delivery), or after ``seconds``."""
        connected = self._client is not None and self._client.is_connected
        if any(r.has_entries or (connected and r.stale) for r in self._readers.values()):
            return
        self._news.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._news.wait(), seconds)

    async def acknowledge(self, partition: int, position: int) -> None:
        """Let JetStream drop the partition's entries up to ``position`` (a purge, at most
        once a second per partition; a purge that fails is retried by a later one)."""
        self._acknowledged[partition] = max(position, self._acknowledged.get(partition, 0))
        _, when = self._purged.get(partition, (0, 0.0))
        if time.monotonic() - when >= PURGE_INTERVAL:
            try:
                await self._purge(partition)
            except LogError as exc:
                log.warning("%s", exc.message)

    async def behind(self, partition: int, position: int) -> int | None:
        """What the partition's reader holds and its consumer has pending (a round trip);
        None while the partition has no reader, or its reader no consumer."""
        reader = self._readers.get(partition)
        return None if reader is None else await reader.behind()

    async def release(self, partition: int) -> None:
        """Stop reading ``partition`` (its lease went to another worker)."""
        reader = self._readers.pop(partition, None)
        if reader is not None:
            await reader.stop()

    def _reader(self, partition: int) -> PartitionReader:
        if self._client is None or self._js is None:
            raise LogError("the NATS event log is not running")
        if not 0 <= partition < self._partitions:
            raise LogError(f"the log has no partition {partition} (it has {self._partitions})")
        reader = self._readers.get(partition)
        if reader is None:
            reader = PartitionReader(
                self._client, self._js, self._settings, partition, self._news.set
            )
            self._readers[partition] = reader
        return reader

    async def _purge(self, partition: int) -> None:
        assert self._js is not None
        position = self._acknowledged[partition]
        done, _ = self._purged.get(partition, (0, 0.0))
        self._purged[partition] = (done, time.monotonic())
        if position <= done:
            return
        with log_errors(f"purging {self._settings.subject(partition)} up to {position}"):
            await self._js.purge_stream(
                self._settings.stream, seq=position + 1, subject=self._settings.subject(partition)
            )
        self._purged[partition] = (position, time.monotonic())

    async def _reconnected(self) -> None:
        for reader in self._readers.values():
            reader.mark_stale()
