"""The embedded event log: the embedded store's own records, read in ``seq`` order.

The inlet's group-commit writer stores each accepted message and its match outcomes in one
transaction; this log is the records (valid messages), each with the outcomes journeys act
on and its identityMap. One partition; a position is a record's ``seq`` (migration 0014
moved the positions stored before, which were outcomes' ``seq``). The messages are stored
already, so slices carry none to store.
The server wakes its engine after each commit journeys may act on; ``wait`` also looks for
new records itself, a few times a second, so the log needs nobody to tell it. Records
journeys do not act on (their identities to link, say) are taken that way, many to a read,
rather than in a cycle of the engine each: under a stream of them, the engine commits a few
times a second instead of after every commit of the inlet's.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from wayfare.log.ports import LogSlice
from wayfare.model.envelope import entity_of
from wayfare.model.events import COUNTED_UNMATCHED, Unmatched
from wayfare.model.nesting import nesting_bound
from wayfare.model.runs import MatchedMessage, identities_in
from wayfare.store.sqlite.connection import SQLiteDatabase

WAIT_POLL_SECONDS = 0.05
_IDENTITY_MAP = b'"identityMap"'
_MARKS = ", ".join("?" * len(COUNTED_UNMATCHED))
_READ = (
    "SELECT r.seq, r.org_id, r.received_ms, r.xaction_id, r.message, m.event_name, "
    "m.identity, m.cause, r.dataset_id FROM (SELECT seq, org_id, received_ms, xaction_id, "
    "message, dataset_id "
    "FROM records WHERE seq > ? ORDER BY seq LIMIT ?) AS r "
    "LEFT JOIN event_matches m ON m.record_seq = r.seq "
    f"AND (m.cause IS NULL OR m.cause IN ({_MARKS})) "
    "ORDER BY r.seq, m.seq"
)


class EmbeddedLog(SQLiteDatabase):
    partitions = 1
    _read_to: int | None = None
    """The position of the last read, which ``wait`` waits to see passed."""

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self.close()

    async def read(self, partition: int, after: int, limit: int) -> LogSlice:
        return await asyncio.to_thread(self._read, partition, after, limit)

    def _read(self, partition: int, after: int, limit: int) -> LogSlice:
        rows = self._all(_READ, (after, limit, *COUNTED_UNMATCHED))
        if not rows:
            self._read_to = after
            return LogSlice(partition, after, after, more=False)
        matched = []
        identities = []
        entity: dict[str, Any] = {}
        last_seq = None
        records = 0
        for seq, org_id, received_ms, xaction_id, raw, event, identity, cause, dataset in rows:
            if seq != last_seq:  # a record's first row (one per outcome journeys act on)
                last_seq = seq
                records += 1
                entity = {}
                if event is not None or _IDENTITY_MAP in raw:  # else no need to parse it
                    document = orjson.loads(raw)
                    entity = entity_of(document)
                    found = identities_in(org_id, received_ms, document, dataset, xaction_id)
                    if found is not None:
                        identities.append(found)
            if event is None:
                continue  # no outcome journeys act on
            matched.append(
                MatchedMessage(
                    seq,
                    org_id,
                    event,
                    identity,
                    entity,
                    Unmatched(cause) if cause else None,
                    nesting_bound(raw),
                    xaction_id,
                )
            )
        last = self._read_to = int(rows[-1][0])
        return LogSlice(
            partition, after, last, matched, identities=identities, more=records >= limit
        )

    async def wait(self, seconds: float) -> None:
        """Until a record comes after the last read (or, before any read, after the last
        record now), looking every WAIT_POLL_SECONDS, or ``seconds`` have passed."""
        deadline = time.monotonic() + seconds
        last = self._read_to
        if last is None:
            last = await asyncio.to_thread(self._last)
        while (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(WAIT_POLL_SECONDS, left))
            if await asyncio.to_thread(self._last) != last:
                return

    async def behind(self, partition: int, position: int) -> int:
        """Records stored after ``position`` (seqs are consecutive but for records deleted)."""
        return max(0, await asyncio.to_thread(self._last) - position)

    def last_position(self) -> int:
        """The position of the last record stored."""
        return self._last()

    def _last(self) -> int:
        row = self._one("SELECT MAX(seq) AS seq FROM records")
        return int(row["seq"] or 0) if row is not None else 0

    async def acknowledge(self, partition: int, position: int) -> None:
        """Nothing to let go: the outcomes are part of the store."""

    async def release(self, partition: int) -> None:
        """Nothing is read ahead."""
