"""One EngineBatch written to PostgreSQL, in the caller's transaction.

The fences are checked first (leases.py: the lease rows stay locked until the transaction
ends), then the messages the batch carries are stored (messages.py), then each table is
written in one statement whatever the batch's size: binary COPY for rows only ever inserted
(timers, outbox items, step events, discards), ``INSERT ... SELECT FROM unnest(...)`` for
rows that may exist already (instance states go as one JSON array, which the server splits:
psycopg builds arrays of long strings slowly), ``UPDATE ... FROM unnest(...)`` for outbox
outcomes. Rows that other engines' commits may lock too (step counts, message ids, the
experience events kept for an identity) are written in one order everywhere, so that
concurrent commits wait for each other rather than deadlock.

PostgreSQL's text cannot hold NUL characters, which identities and error texts from outside
may: they are kept with U+FFFD in their place (messages.py), so that one such person cannot
fail every commit they are part of.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import orjson
import psycopg

from wayfare.model.instances import Instance
from wayfare.model.runs import EngineBatch, OutboxItem
from wayfare.store.audience_checks import run_audience_checks
from wayfare.store.postgres.bulk import copy_rows, next_ids
from wayfare.store.postgres.connection import shared_statements
from wayfare.store.postgres.identities import advisory_locks
from wayfare.store.postgres.leases import check_fences
from wayfare.store.postgres.messages import storable_text, store_messages
from wayfare.store.sql_audiences import InTransaction
from wayfare.store.sql_identities import link_arrivals
from wayfare.store.sql_journeys import add_waiting, reconcile_merges, waiting_moves_of
from wayfare.store.sql_person_events import keep_person_events
from wayfare.store.sql_profiles import apply_profile_updates

NODE_OF_STATE = "state->>'node'"
"""The activity an instance is at, read from its JSON state."""
LOCK = " FOR UPDATE"
"""Instances read before they are written stay locked until the commit (sql_journeys.py,
waiting_moves_of)."""


def _optional(value: str | None) -> str | None:
    return None if value is None else storable_text(value)


def write_batch(conn: psycopg.Connection[Any], batch: EngineBatch) -> list[OutboxItem]:
    """Apply ``batch`` in the transaction open on ``conn``; its new outbox items, with their
    ids, in the batch's order. The fences are checked first, and stay locked until the
    transaction ends (leases.py)."""
    check_fences(conn, batch.owner, batch.fences)
    if batch.messages:
        store_messages(conn, batch.messages)
    changes = (
        link_arrivals(shared_statements(conn), batch.links, advisory_locks) if batch.links else []
    )
    if batch.profile_updates:
        apply_profile_updates(shared_statements(conn), batch.profile_updates, advisory_locks)
    if batch.audience_checks or any(change.merges for _, change in changes):
        checks = InTransaction(shared_statements(conn), advisory_locks)
        run_audience_checks(checks, batch.audience_checks, changes)
    if batch.person_events:  # row locks after every advisory lock the commit takes
        keep = batch.person_events, batch.person_events_per_identity
        keep_person_events(shared_statements(conn), *keep)
    cursor = conn.cursor()
    moved = waiting_moves_of(shared_statements(conn), batch.instances, NODE_OF_STATE, LOCK)
    _upsert_instances(cursor, batch.instances)
    merged = reconcile_merges(shared_statements(conn), changes, "?::json", NODE_OF_STATE, LOCK)
    if batch.fired_timers:
        cursor.execute("DELETE FROM timers WHERE id = ANY(%s)", (batch.fired_timers,))
    if batch.clear_timers:
        cursor.execute("DELETE FROM timers WHERE instance_id = ANY(%s)", (batch.clear_timers,))
    copy_rows(
        cursor,
        "timers (partition, instance_id, due_ms, token, kind)",
        ["int4", "text", "int8", "int8", "text"],
        [(t.partition, t.instance_id, t.due_ms, t.token, t.kind) for t in batch.new_timers],
    )
    outbox = _insert_actions(cursor, batch)
    _update_outbox(
        cursor,
        [s.outbox_id for s in batch.settled],
        state=("text", ["done" if s.ok else "failed" for s in batch.settled]),
        attempts=("int4", [s.attempts for s in batch.settled]),
        last_error=("text", [_optional(s.error) for s in batch.settled]),
    )
    _update_outbox(
        cursor,
        [r.outbox_id for r in batch.retries],
        attempts=("int4", [r.attempts for r in batch.retries]),
        next_ms=("int8", [r.next_ms for r in batch.retries]),
        last_error=("text", [_optional(r.error) for r in batch.retries]),
    )
    copy_rows(
        cursor,
        "step_events (org_id, journey, version, node, node_type, instance_id, identity, "
        "status, detail, at_ms, entered_ms)",
        ["text", "text", "int4", "text", "text", "text", "text", "text", "text", "int8", "int8"],
        [
            (s.org_id, s.journey, s.version, s.node, s.node_type, s.instance_id,
             storable_text(s.identity), s.status, _optional(s.detail), s.at_ms, s.entered_ms)
            for s in batch.steps
        ],
    )  # fmt: skip
    _count_steps(cursor, batch)
    add_waiting(shared_statements(conn), moved, *merged)
    copy_rows(
        cursor,
        "discards (org_id, journey, identity, cause, at_ms)",
        ["text", "text", "text", "text", "int8"],
        [(d.org_id, d.journey, _optional(d.identity), d.cause, d.at_ms) for d in batch.discards],
    )
    if batch.positions:
        positions = sorted(batch.positions.items())
        cursor.execute(
            "INSERT INTO log_positions (partition, position) "
            "SELECT * FROM unnest(%s::int4[], %s::int8[]) "
            "ON CONFLICT (partition) DO UPDATE SET position = excluded.position",
            ([p for p, _ in positions], [n for _, n in positions]),
        )
    if batch.test_entries_done:
        cursor.execute("DELETE FROM test_entries WHERE id = ANY(%s)", (batch.test_entries_done,))
    copy_rows(
        cursor,
        "forwarded_events (partition, org_id, instance_id, event, entity)",
        ["int4", "text", "text", "text", "text"],  # entity, a JSON column, as text: see outbox
        [
            (f.partition, f.org_id, f.instance_id, f.event, orjson.dumps(f.entity).decode())
            for f in batch.forwards
        ],
    )
    if batch.forwards_done:
        cursor.execute("DELETE FROM forwarded_events WHERE id = ANY(%s)", (batch.forwards_done,))
    if batch.audience_entries_done:
        done = batch.audience_entries_done
        cursor.execute("DELETE FROM audience_entries WHERE id = ANY(%s)", (done,))
    return outbox


def _upsert_instances(cursor: psycopg.Cursor[Any], instances: Sequence[Instance]) -> None:
    """Each instance's latest state (the last of an id the batch holds twice), in id order."""
    latest = sorted({i.instance_id: i for i in instances}.items())
    if not latest:
        return
    states = [i for _, i in latest]
    cursor.execute(
        "INSERT INTO instances (instance_id, partition, org_id, journey, version, identity, "
        "status, entered_ms, ended_ms, state) "
        "SELECT * FROM ROWS FROM (unnest(%s::text[]), unnest(%s::int4[]), unnest(%s::text[]), "
        "unnest(%s::text[]), unnest(%s::int4[]), unnest(%s::text[]), unnest(%s::text[]), "
        "unnest(%s::int8[]), unnest(%s::int8[]), json_array_elements(%s::json)) "
        "ON CONFLICT (instance_id) DO UPDATE SET status = excluded.status, "
        "ended_ms = excluded.ended_ms, state = excluded.state "
        "WHERE instances.status NOT IN ('deleted', 'merged')",  # final ends (model.instances)
        (
            [i.instance_id for i in states],
            [i.partition for i in states],
            [i.org_id for i in states],
            [i.journey for i in states],
            [i.version for i in states],
            [storable_text(i.identity) for i in states],
            [i.status for i in states],
            [i.entered_ms for i in states],
            [i.ended_ms for i in states],
            # orjson writes each dataclass as as_json() would; the server keeps each
            # element's text as written
            orjson.dumps(states).decode(),
        ),
    )


def _insert_actions(cursor: psycopg.Cursor[Any], batch: EngineBatch) -> list[OutboxItem]:
    actions = batch.new_actions
    ids = next_ids(cursor, "outbox", "id", len(actions))
    outbox = [
        OutboxItem(
            outbox_id, a.instance_id, a.node, a.token, a.kind, a.request, a.key, 0, a.next_ms,
            a.partition,
        )
        for outbox_id, a in zip(ids, actions, strict=True)
    ]  # fmt: skip
    copy_rows(
        cursor,
        "outbox (id, partition, instance_id, node, token, kind, request, key, state, next_ms)",
        # request, a JSON column, goes as text: the binary forms are the same bytes, and
        # psycopg's json dumper would encode the string as a JSON string
        ["int8", "int4", "text", "text", "int8", "text", "text", "text", "text", "int8"],
        [
            (o.outbox_id, o.partition, o.instance_id, o.node, o.token, o.kind,
             orjson.dumps(o.request).decode(), o.key, "pending", o.next_ms)
            for o in outbox
        ],
    )  # fmt: skip
    return outbox


def _update_outbox(
    cursor: psycopg.Cursor[Any], ids: list[int], **columns: tuple[str, list[Any]]
) -> None:
    """``UPDATE outbox SET <column> = ...`` for each id, from one array per column (name ->
    (type, values in the order of ``ids``))."""
    if not ids:
        return
    names = list(columns)
    cursor.execute(
        "UPDATE outbox SET " + ", ".join(f"{name} = u.{name}" for name in names) + " "
        "FROM unnest(%s::int8[], "
        + ", ".join(f"%s::{kind}[]" for kind, _ in columns.values())
        + ") AS u (id, "
        + ", ".join(names)
        + ") WHERE outbox.id = u.id",
        (ids, *(values for _, values in columns.values())),
    )


def _count_steps(cursor: psycopg.Cursor[Any], batch: EngineBatch) -> None:
    """Add the batch's step events to their counts. Every engine counts the same journeys'
    activities: the rows are upserted in key order (unnest yields its arrays in order)."""
    counts = sorted(
        Counter((s.org_id, s.journey, s.node, s.node_type, s.status) for s in batch.steps).items()
    )
    if not counts:
        return
    columns = list(zip(*(key for key, _ in counts), strict=True))
    cursor.execute(
        "INSERT INTO step_counts (org_id, journey, node, node_type, status, n) "
        "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], "
        "%s::int8[]) "
        "ON CONFLICT (org_id, journey, node, node_type, status) "
        "DO UPDATE SET n = step_counts.n + excluded.n",
        (*(list(column) for column in columns), [n for _, n in counts]),
    )
