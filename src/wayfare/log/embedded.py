"""The embedded event log: the embedded store's own match outcomes, read in ``seq`` order.

The inlet's group-commit writer stores each accepted message and its match outcomes in one
transaction; this log is those outcomes, joined to their records. One partition; a position
is an outcome's ``seq``. The messages are stored already, so slices carry none to store.
The server wakes its engine after each commit journeys may act on; ``wait`` also looks for
new outcomes itself, a few times a second, so the log needs nobody to tell it.
"""

from __future__ import annotations

import asyncio
import time

import orjson

from wayfare.log.ports import LogSlice
from wayfare.model.events import COUNTED_UNMATCHED, Unmatched
from wayfare.model.nesting import nesting_bound
from wayfare.model.runs import MatchedMessage
from wayfare.store.sqlite.connection import SQLiteDatabase

WAIT_POLL_SECONDS = 0.05
_MARKS = ", ".join("?" * len(COUNTED_UNMATCHED))
_READ = (
    "SELECT m.seq, m.org_id, m.event_name, m.identity, m.cause, m.xaction_id, r.message "
    "FROM event_matches m LEFT JOIN records r ON r.seq = m.record_seq "
    f"AND (m.cause IS NULL OR m.cause IN ({_MARKS})) "
    "WHERE m.seq > ? ORDER BY m.seq LIMIT ?"
)


class EmbeddedLog(SQLiteDatabase):
    partitions = 1

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self.close()

    async def read(self, partition: int, after: int, limit: int) -> LogSlice:
        return await asyncio.to_thread(self._read, partition, after, limit)

    def _read(self, partition: int, after: int, limit: int) -> LogSlice:
        rows = self._all(_READ, (*COUNTED_UNMATCHED, after, limit))
        if not rows:
            return LogSlice(partition, after, after)
        matched = []
        for seq, org_id, event, identity, cause, xaction_id, raw in rows:
            if raw is None:
                continue  # not an outcome journeys act on
            message = orjson.loads(raw)
            entity = (message.get("body") or {}).get("xdmEntity") or {}
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
        return LogSlice(partition, after, int(rows[-1][0]), matched)

    async def wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        last = await asyncio.to_thread(self._last)
        while (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(WAIT_POLL_SECONDS, left))
            if await asyncio.to_thread(self._last) != last:
                return

    async def head(self, partition: int) -> int:
        return await asyncio.to_thread(self._last)

    def last_position(self) -> int:
        """The position of the last match outcome stored."""
        return self._last()

    def _last(self) -> int:
        row = self._one("SELECT MAX(seq) AS seq FROM event_matches")
        return int(row["seq"] or 0) if row is not None else 0

    async def acknowledge(self, partition: int, position: int) -> None:
        """Nothing to let go: the outcomes are part of the store."""

    async def release(self, partition: int) -> None:
        """Nothing is read ahead."""
