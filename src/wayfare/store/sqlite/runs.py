"""What journey engines keep, on SQLite: instances, timers, the outbox, test entries, log
positions; and the one write, ``commit`` (step events and their counts, discards too)."""

from __future__ import annotations

import functools
import sqlite3
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any

import orjson

from wayfare.model.admission import Stay
from wayfare.model.audiences import AudienceEntry
from wayfare.model.instances import Instance
from wayfare.model.records import FirstMessage
from wayfare.model.runs import DueTimer, EngineBatch, ForwardedEvent, OutboxItem, TestEntry
from wayfare.store.audience_checks import run_audience_checks
from wayfare.store.sql_audiences import InTransaction, audience_entry_from_row
from wayfare.store.sql_identities import link_arrivals
from wayfare.store.sql_journeys import (
    NODE_OF_STATE,
    add_waiting,
    entry_from_row,
    forward_from_row,
    instance_from_row,
    outbox_item_from_row,
    reconcile_merges,
    waiting_moves_of,
)
from wayfare.store.sql_person_events import keep_person_events
from wayfare.store.sql_profiles import apply_profile_updates
from wayfare.store.sqlite.connection import SQLiteDatabase, store_errors
from wayfare.store.sqlite.leases import check_fences
from wayfare.store.sqlite.statements import in_chunks, insert_numbered, insert_rows
from wayfare.store.sqlite.writer import SQLiteWriter, known_message_ids, store_messages


class SQLiteRunStore(SQLiteDatabase):
    _writer: SQLiteWriter | None = None

    def _chunked(
        self, sql: str, head: tuple[Any, ...], keys: Sequence[object], tail: tuple[Any, ...] = ()
    ) -> Iterator[sqlite3.Row]:
        """Run ``sql`` (with ``{marks}`` for an IN list) over ``keys`` in chunks."""
        for marks, chunk in in_chunks(keys):
            yield from self._all(sql.format(marks=marks), head + chunk + tail)

    # instances
    def instances(self, instance_ids: Sequence[str]) -> list[Instance]:
        sql = "SELECT state FROM instances WHERE instance_id IN ({marks})"
        return [instance_from_row(r) for r in self._chunked(sql, (), instance_ids)]

    def live_instances(self, org_id: str, identities: Sequence[str]) -> list[Instance]:
        sql = (
            "SELECT state FROM instances WHERE org_id = ? AND identity IN ({marks}) "
            "AND status IN ('running', 'waiting')"
        )
        return [instance_from_row(r) for r in self._chunked(sql, (org_id,), identities)]

    def latest_stays(self, org_id: str, identities: Sequence[str]) -> dict[tuple[str, str], Stay]:
        # SQLite takes the bare column ended_ms from the row holding MAX(entered_ms). The
        # people's index, named: left to itself the planner walks every instance of the org
        # through the index that is already grouped by journey and identity (12 ms a read
        # at 100,000 instances, against 0.3 ms), and so ever slower as instances pile up.
        sql = (
            "SELECT journey, identity, MAX(entered_ms) AS entered_ms, ended_ms FROM instances "
            "INDEXED BY instances_by_person_entered "
            "WHERE org_id = ? AND identity IN ({marks}) GROUP BY journey, identity"
        )
        return {
            (r["journey"], r["identity"]): Stay(r["entered_ms"], r["ended_ms"])
            for r in self._chunked(sql, (org_id,), identities)
        }

    def journey_instances(
        self, org_id: str, journey: str, *, live_only: bool, limit: int = 1000
    ) -> list[Instance]:
        sql = "SELECT state FROM instances WHERE org_id = ? AND journey = ?"
        if live_only:
            sql += " AND status IN ('running', 'waiting')"
        rows = self._all(sql + " ORDER BY entered_ms DESC LIMIT ?", (org_id, journey, limit))
        return [instance_from_row(r) for r in rows]

    def stopped_instances(self, partitions: Collection[int], limit: int) -> list[Instance]:
        sql = (
            "SELECT i.state FROM journeys j JOIN instances i ON i.org_id = j.org_id "
            "AND i.journey = j.name AND i.version = j.version "
            "AND i.status IN ('running', 'waiting') "
            "WHERE j.state = 'stopped' AND i.partition IN ({marks}) LIMIT ?"
        )
        rows = list(self._chunked(sql, (), sorted(partitions), (limit,)))
        return [instance_from_row(r) for r in rows[:limit]]

    # timers, outbox, positions, test entries
    def due_timers(self, partitions: Collection[int], now_ms: int, limit: int) -> list[DueTimer]:
        sql = (
            "SELECT * FROM timers WHERE partition IN ({marks}) AND due_ms <= ? "
            "ORDER BY due_ms LIMIT ?"
        )
        rows = sorted(
            self._chunked(sql, (), sorted(partitions), (now_ms, limit)), key=lambda r: r["due_ms"]
        )
        return [
            DueTimer(r["id"], r["instance_id"], r["due_ms"], r["token"], r["kind"])
            for r in rows[:limit]
        ]

    def next_timer_ms(self, partitions: Collection[int]) -> int | None:
        sql = "SELECT MIN(due_ms) AS due FROM timers WHERE partition IN ({marks})"
        dues = [r["due"] for r in self._chunked(sql, (), sorted(partitions))]
        found = [int(d) for d in dues if d is not None]
        return min(found) if found else None

    def pending_outbox(
        self, partitions: Collection[int], after_id: int, limit: int
    ) -> list[OutboxItem]:
        sql = (
            "SELECT * FROM outbox WHERE state = 'pending' AND partition IN ({marks}) "
            "AND id > ? ORDER BY id LIMIT ?"
        )
        rows = sorted(
            self._chunked(sql, (), sorted(partitions), (after_id, limit)), key=lambda r: r["id"]
        )
        return [outbox_item_from_row(r) for r in rows[:limit]]

    def log_positions(self, partitions: Collection[int]) -> dict[int, int]:
        sql = "SELECT partition, position FROM log_positions WHERE partition IN ({marks})"
        return {r["partition"]: r["position"] for r in self._chunked(sql, (), sorted(partitions))}

    def known_message_ids(self, org_id: str, msg_ids: Sequence[str]) -> dict[str, FirstMessage]:
        with self._lock, store_errors():
            return known_message_ids(self._conn, org_id, msg_ids)

    def add_test_entry(self, entry: TestEntry) -> int:
        with self._tx() as conn:
            cursor = conn.execute(
                "INSERT INTO test_entries (org_id, journey, version, identity, partition, "
                "entity) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    entry.org_id,
                    entry.journey,
                    entry.version,
                    entry.identity,
                    entry.partition,
                    orjson.dumps(entry.entity).decode(),
                ),
            )
            return int(cursor.lastrowid or 0)

    def test_entries(self, partitions: Collection[int], limit: int) -> list[TestEntry]:
        sql = "SELECT * FROM test_entries WHERE partition IN ({marks}) ORDER BY id LIMIT ?"
        rows = sorted(self._chunked(sql, (), sorted(partitions), (limit,)), key=lambda r: r["id"])
        return [entry_from_row(r) for r in rows[:limit]]

    def test_entry_done(self, entry_id: int) -> bool:
        return self._one("SELECT 1 FROM test_entries WHERE id = ?", (entry_id,)) is None

    def forwarded_events(self, partitions: Collection[int], limit: int) -> list[ForwardedEvent]:
        sql = "SELECT * FROM forwarded_events WHERE partition IN ({marks}) ORDER BY id LIMIT ?"
        rows = sorted(self._chunked(sql, (), sorted(partitions), (limit,)), key=lambda r: r["id"])
        return [forward_from_row(r) for r in rows[:limit]]

    def audience_entries(self, partitions: Collection[int], limit: int) -> list[AudienceEntry]:
        sql = "SELECT * FROM audience_entries WHERE partition IN ({marks}) ORDER BY id LIMIT ?"
        rows = sorted(self._chunked(sql, (), sorted(partitions), (limit,)), key=lambda r: r["id"])
        return [audience_entry_from_row(r) for r in rows[:limit]]

    # the one write
    def commit(self, batch: EngineBatch) -> list[OutboxItem]:
        if batch.empty:
            return []
        if self._writer is not None and self._writer.running:
            return self._writer.run_in_transaction(functools.partial(_write_mapped, batch=batch))
        with self._tx() as conn:
            return _write_batch(conn, batch)


def _write_mapped(conn: sqlite3.Connection, batch: EngineBatch) -> list[OutboxItem]:
    """_write_batch with the store's own errors, as on the store's own connection."""
    with store_errors():
        return _write_batch(conn, batch)


def _write_batch(conn: sqlite3.Connection, batch: EngineBatch) -> list[OutboxItem]:
    check_fences(conn, batch.owner, batch.fences)
    store_messages(conn, batch.messages)
    changes = link_arrivals(conn, batch.links)
    apply_profile_updates(conn, batch.profile_updates)
    run_audience_checks(InTransaction(conn), batch.audience_checks, changes)
    keep_person_events(conn, batch.person_events, batch.person_events_per_identity)
    moved = waiting_moves_of(conn, batch.instances, NODE_OF_STATE)
    insert_rows(
        conn,
        "instances (instance_id, org_id, journey, version, identity, status, entered_ms, "
        "ended_ms, partition, state)",
        [
            (i.instance_id, i.org_id, i.journey, i.version, i.identity, i.status,
             i.entered_ms, i.ended_ms, i.partition,
             orjson.dumps(i).decode())  # orjson writes the dataclass as as_json() would
            for i in batch.instances
        ],
        " ON CONFLICT (instance_id) DO UPDATE SET status = excluded.status, "
        "ended_ms = excluded.ended_ms, state = excluded.state "
        "WHERE instances.status NOT IN ('deleted', 'merged')",  # final ends (model.instances)
    )  # fmt: skip
    merged = reconcile_merges(conn, changes, "?", NODE_OF_STATE)
    for marks, chunk in in_chunks(batch.fired_timers):
        conn.execute(f"DELETE FROM timers WHERE id IN ({marks})", chunk)
    for marks, chunk in in_chunks(batch.clear_timers):
        conn.execute(f"DELETE FROM timers WHERE instance_id IN ({marks})", chunk)
    insert_rows(
        conn,
        "timers (instance_id, partition, due_ms, token, kind)",
        [(t.instance_id, t.partition, t.due_ms, t.token, t.kind) for t in batch.new_timers],
    )
    requests = [orjson.dumps(a.request).decode() for a in batch.new_actions]
    ids = insert_numbered(
        conn,
        "outbox (instance_id, partition, node, token, kind, request, key, state, next_ms)",
        [
            (a.instance_id, a.partition, a.node, a.token, a.kind, request, a.key, "pending",
             a.next_ms)
            for a, request in zip(batch.new_actions, requests, strict=True)
        ],
    )  # fmt: skip
    outbox = [
        OutboxItem(
            outbox_id, a.instance_id, a.node, a.token, a.kind, a.request, a.key, 0, a.next_ms,
            a.partition,
        )
        for outbox_id, a in zip(ids, batch.new_actions, strict=True)
    ]  # fmt: skip
    _update_outbox(
        conn,
        "state = ?, attempts = ?, last_error = ?",
        ((("done" if s.ok else "failed", s.attempts, s.error), s.outbox_id) for s in batch.settled),
    )
    _update_outbox(
        conn,
        "attempts = ?, next_ms = ?, last_error = ?",
        (((r.attempts, r.next_ms, r.error), r.outbox_id) for r in batch.retries),
    )
    insert_rows(
        conn,
        "step_events (org_id, journey, version, node, node_type, instance_id, identity, "
        "status, detail, at_ms, entered_ms)",
        [
            (s.org_id, s.journey, s.version, s.node, s.node_type, s.instance_id, s.identity,
             s.status, s.detail, s.at_ms, s.entered_ms)
            for s in batch.steps
        ],
    )  # fmt: skip
    counts = Counter((s.org_id, s.journey, s.node, s.node_type, s.status) for s in batch.steps)
    insert_rows(
        conn,
        "step_counts (org_id, journey, node, node_type, status, n)",
        [(*key, n) for key, n in counts.items()],
        " ON CONFLICT (org_id, journey, node, node_type, status) DO UPDATE SET n = n + excluded.n",
    )
    add_waiting(conn, moved, *merged)
    insert_rows(
        conn,
        "discards (org_id, journey, identity, cause, at_ms)",
        [(d.org_id, d.journey, d.identity, d.cause, d.at_ms) for d in batch.discards],
    )
    insert_rows(
        conn,
        "log_positions (partition, position)",
        list(batch.positions.items()),
        " ON CONFLICT (partition) DO UPDATE SET position = excluded.position",
    )
    for marks, chunk in in_chunks(batch.test_entries_done):
        conn.execute(f"DELETE FROM test_entries WHERE id IN ({marks})", chunk)
    insert_rows(
        conn,
        "forwarded_events (partition, org_id, instance_id, event, entity)",
        [
            (f.partition, f.org_id, f.instance_id, f.event, orjson.dumps(f.entity).decode())
            for f in batch.forwards
        ],
    )
    for marks, chunk in in_chunks(batch.forwards_done):
        conn.execute(f"DELETE FROM forwarded_events WHERE id IN ({marks})", chunk)
    for marks, chunk in in_chunks(batch.audience_entries_done):
        conn.execute(f"DELETE FROM audience_entries WHERE id IN ({marks})", chunk)
    return outbox


def _update_outbox(
    conn: sqlite3.Connection, assignments: str, changes: Iterable[tuple[tuple[Any, ...], int]]
) -> None:
    """``UPDATE outbox SET <assignments>`` once per distinct set of values, over the ids that
    share it: outcomes mostly do (done, first attempt, no error)."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for values, outbox_id in changes:
        groups.setdefault(values, []).append(outbox_id)
    for values, ids in groups.items():
        for marks, chunk in in_chunks(ids):
            conn.execute(
                f"UPDATE outbox SET {assignments} WHERE id IN ({marks})", (*values, *chunk)
            )
