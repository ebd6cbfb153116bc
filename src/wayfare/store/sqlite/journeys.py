"""JourneyStore on SQLite: versions, instances, timers, outbox, step events, reports."""

from __future__ import annotations

import functools
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from wayfare.model.events import COUNTED_UNMATCHED, Unmatched
from wayfare.model.nesting import nesting_bound
from wayfare.model.runs import (
    DueTimer,
    EngineBatch,
    JourneyState,
    JourneyVersion,
    MatchedMessage,
    OutboxItem,
)
from wayfare.store.sqlite.connection import SQLiteDatabase, store_errors
from wayfare.store.sqlite.statements import in_chunks, insert_rows
from wayfare.store.sqlite.writer import SQLiteWriter

LIVE = ("running", "waiting")


def _version(r: sqlite3.Row) -> JourneyVersion:
    return JourneyVersion(
        org_id=r["org_id"],
        name=r["name"],
        version=r["version"],
        state=r["state"],
        entry_event=r["entry_event"],
        definition=orjson.loads(r["definition"]),
        test_mode=bool(r["test_mode"]),
        created_ms=r["created_ms"],
        changed_ms=r["changed_ms"],
    )


def _instance(r: sqlite3.Row) -> dict[str, Any]:
    state: dict[str, Any] = orjson.loads(r["state"])
    return state


def _step(r: sqlite3.Row) -> dict[str, Any]:
    return {
        "seq": r["seq"],
        "journey": r["journey"],
        "version": r["version"],
        "node": r["node"],
        "nodeType": r["node_type"],
        "instanceId": r["instance_id"],
        "identity": r["identity"],
        "status": r["status"],
        "detail": r["detail"],
        "atMs": r["at_ms"],
        "enteredMs": r["entered_ms"],
    }


class SQLiteJourneyStore(SQLiteDatabase):
    """JourneyStore on SQLite. The engine's commits go through the group-commit writer when
    one runs on the same file (see sqlite_writer.py)."""

    def __init__(
        self, path: Path, *, fsync: bool = True, writer: SQLiteWriter | None = None
    ) -> None:
        super().__init__(path, fsync=fsync)
        self._fsync = fsync
        self._writer = writer

    @property
    def generation(self) -> int:
        """Kept in the database by triggers on ``journeys`` (migration 0006), so a change made
        by any connection or process moves it, in the change's own transaction."""
        row = self._one("SELECT n FROM journey_generation")
        assert row is not None  # the migration adds the one row
        return int(row["n"])

    def another_connection(self) -> SQLiteJourneyStore:
        """The same store on a connection of its own: the engine's reads then never wait
        behind an admin's report."""
        return SQLiteJourneyStore(self.path, fsync=self._fsync, writer=self._writer)

    # versions
    def add_journey_version(self, version: JourneyVersion) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO journeys (org_id, name, version, state, test_mode, entry_event, "
                "definition, created_ms, changed_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    version.org_id,
                    version.name,
                    version.version,
                    version.state,
                    int(version.test_mode),
                    version.entry_event,
                    orjson.dumps(version.definition).decode(),
                    version.created_ms,
                    version.changed_ms,
                ),
            )

    def replace_draft(self, version: JourneyVersion) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE journeys SET definition = ?, entry_event = ?, changed_ms = ? "
                "WHERE org_id = ? AND name = ? AND version = ? AND state = 'draft'",
                (
                    orjson.dumps(version.definition).decode(),
                    version.entry_event,
                    version.changed_ms,
                    version.org_id,
                    version.name,
                    version.version,
                ),
            )

    def get_journey(
        self, org_id: str, name: str, version: int | None = None
    ) -> JourneyVersion | None:
        if version is None:
            rows = self._all(
                "SELECT * FROM journeys WHERE org_id = ? AND name = ? "
                "ORDER BY version DESC LIMIT 1",
                (org_id, name),
            )
        else:
            rows = self._all(
                "SELECT * FROM journeys WHERE org_id = ? AND name = ? AND version = ?",
                (org_id, name, version),
            )
        return _version(rows[0]) if rows else None

    def journey_versions(self, org_id: str, name: str) -> list[JourneyVersion]:
        rows = self._all(
            "SELECT * FROM journeys WHERE org_id = ? AND name = ? ORDER BY version", (org_id, name)
        )
        return [_version(r) for r in rows]

    def list_journeys(self, org_id: str) -> list[JourneyVersion]:
        rows = self._all(
            "SELECT j.* FROM journeys j WHERE j.org_id = ? AND j.version = (SELECT MAX(version) "
            "FROM journeys WHERE org_id = j.org_id AND name = j.name) ORDER BY j.name",
            (org_id,),
        )
        return [_version(r) for r in rows]

    def set_journey_state(
        self,
        org_id: str,
        name: str,
        version: int,
        state: JourneyState,
        now_ms: int,
        test_mode: bool | None = None,
    ) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE journeys SET state = ?, changed_ms = ?, test_mode = COALESCE(?, "
                "test_mode) WHERE org_id = ? AND name = ? AND version = ?",
                (
                    state,
                    now_ms,
                    None if test_mode is None else int(test_mode),
                    org_id,
                    name,
                    version,
                ),
            )

    def entry_journeys(self, org_id: str, event: str) -> list[JourneyVersion]:
        rows = self._all(
            "SELECT * FROM journeys WHERE org_id = ? AND entry_event = ? AND "
            "(state = 'live' OR (state = 'draft' AND test_mode = 1))",
            (org_id, event),
        )
        return [_version(r) for r in rows]

    def journeys_using_event(self, org_id: str, event: str) -> list[str]:
        rows = self._all(
            "SELECT name, entry_event, definition FROM journeys "
            "WHERE org_id = ? AND state = 'live'",
            (org_id,),
        )
        users = set()
        for r in rows:
            activities = orjson.loads(r["definition"]).get("activities") or {}
            awaited = {
                e.get("event")
                for a in activities.values()
                if isinstance(a, dict)
                for e in (a.get("events") or [])
                if isinstance(e, dict)
            }
            if r["entry_event"] == event or event in awaited:
                users.add(r["name"])
        return sorted(users)

    # the event log
    def read_matches(self, after_seq: int, limit: int) -> tuple[list[MatchedMessage], int]:
        # One read: the outcomes and, for those journeys act on, their record's message.
        marks = ", ".join("?" * len(COUNTED_UNMATCHED))
        rows = self._all(
            "SELECT m.seq, m.org_id, m.event_name, m.identity, m.cause, r.message "
            "FROM event_matches m LEFT JOIN records r ON r.seq = m.record_seq "
            f"AND (m.cause IS NULL OR m.cause IN ({marks})) "
            "WHERE m.seq > ? ORDER BY m.seq LIMIT ?",
            (*COUNTED_UNMATCHED, after_seq, limit),
        )
        if not rows:
            return [], after_seq
        out = []
        for seq, org_id, event, identity, cause, raw in rows:
            if raw is None:
                continue  # not an outcome journeys act on
            message = orjson.loads(raw)
            entity = (message.get("body") or {}).get("xdmEntity") or {}
            out.append(
                MatchedMessage(
                    seq,
                    org_id,
                    event,
                    identity,
                    entity,
                    Unmatched(cause) if cause else None,
                    nesting_bound(raw),
                )
            )
        return out, int(rows[-1][0])

    def cursor(self, name: str) -> int:
        rows = self._all("SELECT seq FROM cursors WHERE name = ?", (name,))
        return int(rows[0]["seq"]) if rows else 0

    # instances
    def _chunked(
        self, sql: str, head: tuple[Any, ...], keys: Sequence[str]
    ) -> Iterator[sqlite3.Row]:
        """Run ``sql`` (with ``{marks}`` for an IN list) over ``keys`` in chunks."""
        for marks, chunk in in_chunks(keys):
            yield from self._all(sql.format(marks=marks), head + chunk)

    def instances(self, instance_ids: Sequence[str]) -> list[dict[str, Any]]:
        sql = "SELECT state FROM instances WHERE instance_id IN ({marks})"
        return [_instance(r) for r in self._chunked(sql, (), instance_ids)]

    def live_instances(self, org_id: str, identities: Sequence[str]) -> list[dict[str, Any]]:
        sql = (
            "SELECT state FROM instances WHERE org_id = ? AND identity IN ({marks}) "
            "AND status IN ('running', 'waiting')"
        )
        return [_instance(r) for r in self._chunked(sql, (org_id,), identities)]

    def latest_entries(
        self, org_id: str, identities: Sequence[str]
    ) -> dict[tuple[str, str], tuple[int, int | None]]:
        # SQLite takes the bare column ended_ms from the row holding MAX(entered_ms).
        sql = (
            "SELECT journey, identity, MAX(entered_ms) AS entered_ms, ended_ms FROM instances "
            "WHERE org_id = ? AND identity IN ({marks}) GROUP BY journey, identity"
        )
        return {
            (r["journey"], r["identity"]): (r["entered_ms"], r["ended_ms"])
            for r in self._chunked(sql, (org_id,), identities)
        }

    def journey_instances(
        self, org_id: str, journey: str, *, live_only: bool, limit: int = 1000
    ) -> list[dict[str, Any]]:
        sql = "SELECT state FROM instances WHERE org_id = ? AND journey = ?"
        if live_only:
            sql += " AND status IN ('running', 'waiting')"
        rows = self._all(sql + " ORDER BY entered_ms DESC LIMIT ?", (org_id, journey, limit))
        return [_instance(r) for r in rows]

    # timers and outbox
    def due_timers(self, now_ms: int, limit: int) -> list[DueTimer]:
        rows = self._all(
            "SELECT * FROM timers WHERE due_ms <= ? ORDER BY due_ms LIMIT ?", (now_ms, limit)
        )
        return [
            DueTimer(r["id"], r["instance_id"], r["due_ms"], r["token"], r["kind"]) for r in rows
        ]

    def next_timer_ms(self) -> int | None:
        rows = self._all("SELECT MIN(due_ms) AS due FROM timers")
        return int(rows[0]["due"]) if rows and rows[0]["due"] is not None else None

    def pending_outbox(self, after_id: int, limit: int) -> list[OutboxItem]:
        rows = self._all(
            "SELECT * FROM outbox WHERE state = 'pending' AND id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        return [
            OutboxItem(
                r["id"],
                r["instance_id"],
                r["node"],
                r["token"],
                r["kind"],
                orjson.loads(r["request"]),
                r["key"],
                r["attempts"],
                r["next_ms"],
            )
            for r in rows
        ]

    # the one write
    def commit(self, batch: EngineBatch) -> list[OutboxItem]:
        if batch.empty:
            return []
        if self._writer is not None and self._writer.running:
            return self._writer.run_in_transaction(functools.partial(_write_mapped, batch=batch))
        with self._tx() as conn:
            return _write_batch(conn, batch)

    # reports
    def report(self, org_id: str, journey: str) -> dict[str, Any]:
        nodes: dict[str, dict[str, Any]] = {}
        for r in self._all(
            "SELECT node, node_type, status, n FROM step_counts WHERE org_id = ? AND journey = ?",
            (org_id, journey),
        ):
            entry = nodes.setdefault(r["node"], {"type": r["node_type"]})
            entry[r["status"]] = entry.get(r["status"], 0) + r["n"]
        statuses = {
            r["status"]: r["n"]
            for r in self._all(
                "SELECT status, COUNT(*) AS n FROM instances WHERE org_id = ? AND journey = ? "
                "GROUP BY status",
                (org_id, journey),
            )
        }
        discards = {
            r["cause"]: r["n"]
            for r in self._all(
                "SELECT cause, COUNT(*) AS n FROM discards WHERE org_id = ? AND journey = ? "
                "GROUP BY cause",
                (org_id, journey),
            )
        }
        return {
            "journey": journey,
            "entered": sum(statuses.values()),
            "inJourney": statuses.get("running", 0) + statuses.get("waiting", 0),
            "exited": statuses.get("finished", 0) + statuses.get("exited", 0),
            "inError": statuses.get("error", 0),
            "discarded": sum(discards.values()),
            "discardsByCause": discards,
            "nodes": nodes,
        }

    def list_steps(self, org_id: str, journey: str, limit: int) -> list[dict[str, Any]]:
        rows = self._all(
            "SELECT * FROM step_events WHERE org_id = ? AND journey = ? ORDER BY seq DESC LIMIT ?",
            (org_id, journey, limit),
        )
        return [_step(r) for r in rows]

    def step_event_records(
        self, org_id: str, *, limit: int, after_seq: int | None = None
    ) -> list[dict[str, Any]]:
        if after_seq is None:
            rows = self._all(
                "SELECT * FROM step_events WHERE org_id = ? ORDER BY seq DESC LIMIT ?",
                (org_id, limit),
            )
            rows.reverse()
        else:
            rows = self._all(
                "SELECT * FROM step_events WHERE org_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (org_id, after_seq, limit),
            )
        return [_step(r) for r in rows]

    def count_step_events(self, org_id: str) -> int:
        row = self._one("SELECT COUNT(*) AS n FROM step_events WHERE org_id = ?", (org_id,))
        return int(row["n"]) if row else 0

    def add_test_profile(self, org_id: str, identity: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO test_profiles (org_id, identity) VALUES (?, ?)",
                (org_id, identity),
            )

    def is_test_profile(self, org_id: str, identity: str) -> bool:
        return bool(
            self._all(
                "SELECT 1 FROM test_profiles WHERE org_id = ? AND identity = ?", (org_id, identity)
            )
        )


def _write_mapped(conn: sqlite3.Connection, batch: EngineBatch) -> list[OutboxItem]:
    """_write_batch with the store's own errors, as on the store's own connection."""
    with store_errors():
        return _write_batch(conn, batch)


def _write_batch(conn: sqlite3.Connection, batch: EngineBatch) -> list[OutboxItem]:
    insert_rows(
        conn,
        "instances (instance_id, org_id, journey, version, identity, status, entered_ms, "
        "ended_ms, state)",
        batch.instances,
        " ON CONFLICT (instance_id) DO UPDATE SET status = excluded.status, "
        "ended_ms = excluded.ended_ms, state = excluded.state",
    )
    for marks, chunk in in_chunks(batch.fired_timers):
        conn.execute(f"DELETE FROM timers WHERE id IN ({marks})", chunk)
    for marks, chunk in in_chunks(batch.clear_timers):
        conn.execute(f"DELETE FROM timers WHERE instance_id IN ({marks})", chunk)
    insert_rows(conn, "timers (instance_id, due_ms, token, kind)", batch.new_timers)
    outbox: list[OutboxItem] = []
    if batch.new_outbox:
        # Ids are given here, inside the write lock, so the dispatcher can be handed the new
        # items without reading them back.
        top = conn.execute("SELECT COALESCE(MAX(id), 0) FROM outbox").fetchone()[0]
        outbox = [
            OutboxItem(top + n, i, node, t, k, req, key, 0, due)
            for n, (i, node, t, k, req, key, due) in enumerate(batch.new_outbox, 1)
        ]
        insert_rows(
            conn,
            "outbox (id, instance_id, node, token, kind, request, key, state, next_ms)",
            [
                (o.outbox_id, o.instance_id, o.node, o.token, o.kind,
                 orjson.dumps(o.request).decode(), o.key, "pending", o.next_ms)
                for o in outbox
            ],
        )  # fmt: skip
    _update_outbox(
        conn,
        "state = ?, attempts = ?, last_error = ?",
        (((state, attempts, error), oid) for oid, state, attempts, error in batch.outbox_done),
    )
    _update_outbox(
        conn,
        "attempts = ?, next_ms = ?, last_error = ?",
        (((attempts, due, error), oid) for oid, attempts, due, error in batch.outbox_retry),
    )
    insert_rows(
        conn,
        "step_events (org_id, journey, version, node, node_type, instance_id, identity, "
        "status, detail, at_ms, entered_ms)",
        batch.steps,
    )
    counts = Counter(
        (org, journey, node, kind, status)
        for org, journey, _, node, kind, _, _, status, *_ in batch.steps
    )
    insert_rows(
        conn,
        "step_counts (org_id, journey, node, node_type, status, n)",
        [(*key, n) for key, n in counts.items()],
        " ON CONFLICT (org_id, journey, node, node_type, status) DO UPDATE SET n = n + excluded.n",
    )
    insert_rows(conn, "discards (org_id, journey, identity, cause, at_ms)", batch.discards)
    if batch.cursor is not None:
        conn.execute(
            "INSERT INTO cursors (name, seq) VALUES (?, ?) ON CONFLICT (name) "
            "DO UPDATE SET seq = excluded.seq",
            batch.cursor,
        )
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
