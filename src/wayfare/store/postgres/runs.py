"""What journey engines keep, on PostgreSQL: instances, timers, the outbox, test entries, log
positions; and the one write, ``commit``: one transaction on a pooled connection
(batches.py).

Reads are short, each on a connection of the pool, and take lists of keys or partitions as
one array (``= ANY(%s)``; timers partition by partition: see ``due_timers``). Identities are
looked up as they are stored, NUL characters replaced (messages.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Sequence
from typing import Any

import orjson
from psycopg.rows import dict_row

from wayfare.errors import StoreError
from wayfare.model.admission import Stay
from wayfare.model.audiences import AudienceEntry
from wayfare.model.instances import Instance
from wayfare.model.records import FirstMessage
from wayfare.model.runs import DueTimer, EngineBatch, ForwardedEvent, OutboxItem, TestEntry
from wayfare.store.postgres.batches import write_batch
from wayfare.store.postgres.connection import PostgresDatabase
from wayfare.store.postgres.messages import known_message_ids, storable_text
from wayfare.store.sql_audiences import audience_entry_from_row
from wayfare.store.sql_journeys import entry_from_row, forward_from_row, outbox_item_from_row
from wayfare.store.sql_resources import Row

log = logging.getLogger(__name__)

OUTCOME_SECONDS = 60.0
"""How long a commit whose answer was lost waits for the server to say what became of it;
past it, the commit counts as failed (and the engine applies its step again)."""


class PostgresRunStore(PostgresDatabase):
    def _instances(self, sql: str, params: Sequence[Any]) -> list[Instance]:
        with self._connection() as conn:
            rows = conn.execute(sql, params)
            return [Instance.from_json(orjson.loads(state)) for (state,) in rows]

    def _rows(self, sql: str, params: Sequence[Any]) -> list[Row]:
        with self._connection() as conn:
            return list(conn.cursor(row_factory=dict_row).execute(sql, params))

    # instances
    def instances(self, instance_ids: Sequence[str]) -> list[Instance]:
        if not instance_ids:
            return []
        return self._instances(
            "SELECT state FROM instances WHERE instance_id = ANY(%s)", (list(instance_ids),)
        )

    def live_instances(self, org_id: str, identities: Sequence[str]) -> list[Instance]:
        if not identities:
            return []
        return self._instances(
            "SELECT state FROM instances WHERE org_id = %s AND identity = ANY(%s) "
            "AND status IN ('running', 'waiting')",
            (org_id, [storable_text(i) for i in identities]),
        )

    def latest_stays(self, org_id: str, identities: Sequence[str]) -> dict[tuple[str, str], Stay]:
        asked = {storable_text(i): i for i in identities}
        if not asked:
            return {}
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT DISTINCT ON (journey, identity) journey, identity, entered_ms, ended_ms "
                "FROM instances WHERE org_id = %s AND identity = ANY(%s) "
                "ORDER BY journey, identity, entered_ms DESC",
                (org_id, list(asked)),
            )
            return {
                (journey, asked[identity]): Stay(entered_ms, ended_ms)
                for journey, identity, entered_ms, ended_ms in rows
            }

    def journey_instances(
        self, org_id: str, journey: str, *, live_only: bool, limit: int = 1000
    ) -> list[Instance]:
        live = " AND status IN ('running', 'waiting')" if live_only else ""
        return self._instances(
            f"SELECT state FROM instances WHERE org_id = %s AND journey = %s{live} "
            "ORDER BY entered_ms DESC LIMIT %s",
            (org_id, journey, limit),
        )

    def stopped_instances(self, partitions: Collection[int], limit: int) -> list[Instance]:
        # journeys.name sorts by code point (COLLATE "C"); instances.journey is compared in
        # its own collation, so that its index serves the join.
        return self._instances(
            "SELECT i.state FROM journeys j JOIN instances i ON i.org_id = j.org_id "
            'AND i.journey = j.name COLLATE "default" AND i.version = j.version '
            "AND i.status IN ('running', 'waiting') "
            "WHERE j.state = 'stopped' AND i.partition = ANY(%s) LIMIT %s",
            (sorted(partitions), limit),
        )

    # timers, outbox, positions, test entries
    # Timers are read partition by partition, each from the index (partition, due_ms), then
    # merged: the server cannot read that index in due order across a list of partitions,
    # so "partition = ANY(...) ORDER BY due_ms" reads every timer due (or, for the earliest,
    # every timer) of every partition first: 40+ ms over 400,000 timers, against 0.4 ms.
    def due_timers(self, partitions: Collection[int], now_ms: int, limit: int) -> list[DueTimer]:
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT t.id, t.instance_id, t.due_ms, t.token, t.kind "
                "FROM unnest(%s::int4[]) AS p (partition) CROSS JOIN LATERAL ("
                "SELECT * FROM timers WHERE timers.partition = p.partition AND due_ms <= %s "
                "ORDER BY due_ms, id LIMIT %s) AS t ORDER BY t.due_ms, t.id LIMIT %s",
                (sorted(partitions), now_ms, limit, limit),
            )
            return [DueTimer(*row) for row in rows]

    def next_timer_ms(self, partitions: Collection[int]) -> int | None:
        with self._connection() as conn:
            row = conn.execute(
                "SELECT MIN((SELECT MIN(due_ms) FROM timers WHERE timers.partition = p.partition)) "
                "FROM unnest(%s::int4[]) AS p (partition)",
                (sorted(partitions),),
            ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def pending_outbox(
        self, partitions: Collection[int], after_id: int, limit: int
    ) -> list[OutboxItem]:
        rows = self._rows(
            "SELECT * FROM outbox WHERE state = 'pending' AND partition = ANY(%s) AND id > %s "
            "ORDER BY id LIMIT %s",
            (sorted(partitions), after_id, limit),
        )
        return [outbox_item_from_row(r) for r in rows]

    def log_positions(self, partitions: Collection[int]) -> dict[int, int]:
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT partition, position FROM log_positions WHERE partition = ANY(%s)",
                (sorted(partitions),),
            )
            return {partition: position for partition, position in rows}

    def known_message_ids(self, org_id: str, msg_ids: Sequence[str]) -> dict[str, FirstMessage]:
        return known_message_ids(self._pool, org_id, msg_ids)

    def add_test_entry(self, entry: TestEntry) -> int:
        with self._connection() as conn:
            row = conn.execute(
                "INSERT INTO test_entries (org_id, journey, version, identity, partition, "
                "entity) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                (
                    entry.org_id,
                    entry.journey,
                    entry.version,
                    storable_text(entry.identity),
                    entry.partition,
                    orjson.dumps(entry.entity).decode(),
                ),
            ).fetchone()
        assert row is not None
        return int(row[0])

    def test_entries(self, partitions: Collection[int], limit: int) -> list[TestEntry]:
        rows = self._rows(
            "SELECT * FROM test_entries WHERE partition = ANY(%s) ORDER BY id LIMIT %s",
            (sorted(partitions), limit),
        )
        return [entry_from_row(r) for r in rows]

    def test_entry_done(self, entry_id: int) -> bool:
        with self._connection() as conn:
            found = conn.execute("SELECT 1 FROM test_entries WHERE id = %s", (entry_id,))
            return found.fetchone() is None

    def forwarded_events(self, partitions: Collection[int], limit: int) -> list[ForwardedEvent]:
        rows = self._rows(
            "SELECT * FROM forwarded_events WHERE partition = ANY(%s) ORDER BY id LIMIT %s",
            (sorted(partitions), limit),
        )
        return [forward_from_row(r) for r in rows]

    def audience_entries(self, partitions: Collection[int], limit: int) -> list[AudienceEntry]:
        rows = self._rows(
            "SELECT * FROM audience_entries WHERE partition = ANY(%s) ORDER BY id LIMIT %s",
            (sorted(partitions), limit),
        )
        return [audience_entry_from_row(r) for r in rows]

    # the one write
    def commit(self, batch: EngineBatch) -> list[OutboxItem]:
        """One transaction. When the connection breaks once its COMMIT was sent (the server
        killed at that moment), whether it committed is asked of the server once it answers
        again (``pg_xact_status``): the engine must not apply a step twice, which records
        its step events and counts twice, nor take as stored a step that is not."""
        if batch.empty:
            return []
        xid: str | None = None
        written: list[OutboxItem] | None = None
        try:
            with self._connection() as conn, conn.transaction():
                (xid,) = conn.execute("SELECT pg_current_xact_id()::text").fetchone() or (None,)
                written = write_batch(conn, batch)
        except StoreError:
            if xid is None or written is None or not self._committed(xid):
                raise
        assert written is not None
        return written

    def _committed(self, xid: str) -> bool:
        """Whether transaction ``xid`` committed, asked until the server says (a fresh
        connection of the pool: the one that sent COMMIT broke), at most OUTCOME_SECONDS."""
        deadline = time.monotonic() + OUTCOME_SECONDS
        delay = 0.1
        while True:
            try:
                with self._connection() as conn:
                    row = conn.execute("SELECT pg_xact_status(%s::xid8)", (xid,)).fetchone()
                status = None if row is None else row[0]
                if status != "in progress":
                    log.warning("journey store: a commit whose answer was lost: %s", status)
                    return status == "committed"
            except StoreError:
                if time.monotonic() >= deadline:
                    raise
            if time.monotonic() >= deadline:
                raise StoreError("the journey store's commit is still in progress")
            time.sleep(delay)
            delay = min(1.0, delay * 2)
