"""Accepted messages into PostgreSQL, in the caller's transaction.

``store_messages`` is what the group-commit writer (writer.py) and, in scale-out, the journey
engine's commit (which stores what it read from the event log) both run: valid messages
become records, invalid ones failed records, match outcomes ``event_matches``; a ``msgId``
already stored in its org, or repeated within the call, is a duplicate answered with the
first xactionId and not stored again (a conflict when its message differs from the first's).

Deduplication claims each ``msgId`` with ``INSERT ... ON CONFLICT DO NOTHING`` on the primary
key of ``message_ids``, never by reading first: a transaction claiming a key that another
one has claimed and not yet committed waits for it, then sees its row (stored: a duplicate)
or not (rolled back: the claim is its own). That needs READ COMMITTED, PostgreSQL's default.
A call claims its keys in one statement, in one order, so calls claiming overlapping keys at
once cannot deadlock; a transaction calling it twice could (PostgreSQL would abort one of
the two: StoreError), so call it once per transaction with everything to store.

PostgreSQL's text cannot hold NUL characters, which a sender's msgId or an identity in a
message may: those are kept with U+FFFD in their place (the message itself is kept as its
bytes), so that one such message cannot fail every commit it is part of.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from wayfare.errors import StoreError
from wayfare.model.records import FirstMessage, IncomingMessage, WriteOutcome, repeat_of
from wayfare.store.postgres.bulk import copy_rows, next_ids
from wayfare.store.postgres.connection import Pool, store_errors

_Key = tuple[str, str]
"""(org_id, msg_id)"""


def store_messages(
    conn: psycopg.Connection[Any], messages: Sequence[IncomingMessage]
) -> list[WriteOutcome]:
    """Store ``messages`` in the transaction open on ``conn`` (not committed here); one
    outcome per message, in order."""
    if conn.autocommit and conn.info.transaction_status == TransactionStatus.IDLE:
        raise StoreError("store_messages runs in the caller's transaction; none is open")
    with store_errors():
        return _store(conn.cursor(), messages)


def _store(cursor: psycopg.Cursor[Any], messages: Sequence[IncomingMessage]) -> list[WriteOutcome]:
    first_of: dict[_Key, int] = {}
    for i, m in enumerate(messages):
        if m.msg_id is not None:
            first_of.setdefault((m.org_id, storable_text(m.msg_id)), i)
    claimed = _claim(cursor, [(key, messages[i]) for key, i in first_of.items()])
    earlier = _first_messages(cursor, [key for key in first_of if key not in claimed])
    outcomes: list[WriteOutcome] = []
    kept: list[IncomingMessage] = []
    for i, m in enumerate(messages):
        if m.msg_id is not None:
            key = (m.org_id, storable_text(m.msg_id))
            if key in earlier:
                outcomes.append(repeat_of(earlier[key], m))
                continue
            if first_of[key] != i:
                first = messages[first_of[key]]
                outcomes.append(repeat_of(FirstMessage(first.xaction_id, first.digest), m))
                continue
        kept.append(m)
        outcomes.append(WriteOutcome(m.xaction_id, False))
    _insert_messages(cursor, kept)
    return outcomes


def known_message_ids(
    source: Pool | psycopg.Connection[Any], org_id: str, msg_ids: Sequence[str]
) -> dict[str, FirstMessage]:
    """msgId -> the first message stored under it, for those of ``msg_ids`` already stored
    in ``org_id``."""
    if not msg_ids:
        return {}
    with store_errors():
        if isinstance(source, psycopg.Connection):
            return _known(source, org_id, msg_ids)
        with source.connection() as conn:
            return _known(conn, org_id, msg_ids)


def _known(
    conn: psycopg.Connection[Any], org_id: str, msg_ids: Sequence[str]
) -> dict[str, FirstMessage]:
    rows = conn.execute(
        "SELECT msg_id, xaction_id, digest FROM message_ids WHERE org_id = %s AND msg_id = ANY(%s)",
        (org_id, [storable_text(msg_id) for msg_id in msg_ids]),
    )
    found = {
        msg_id: FirstMessage(xaction_id, None if digest is None else bytes(digest))
        for msg_id, xaction_id, digest in rows.fetchall()
    }
    return {
        msg_id: found[storable_text(msg_id)] for msg_id in msg_ids if storable_text(msg_id) in found
    }


def storable_text(value: str) -> str:
    """``value`` as PostgreSQL's text can hold it."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def _optional_text(value: str | None) -> str | None:
    return None if value is None else storable_text(value)


def _claim(cursor: psycopg.Cursor[Any], wanted: list[tuple[_Key, IncomingMessage]]) -> set[_Key]:
    """The keys this transaction now holds, of ``wanted`` (key, first message) pairs."""
    if not wanted:
        return set()
    wanted.sort(key=lambda pair: pair[0])
    cursor.execute(
        "INSERT INTO message_ids (org_id, msg_id, xaction_id, digest) "
        "SELECT org_id, msg_id, xaction_id, digest "
        "FROM unnest(%s::text[], %s::text[], %s::text[], %s::bytea[]) "
        "WITH ORDINALITY AS w (org_id, msg_id, xaction_id, digest, n) ORDER BY n "
        "ON CONFLICT DO NOTHING RETURNING org_id, msg_id",
        (
            [org_id for (org_id, _), _ in wanted],
            [msg_id for (_, msg_id), _ in wanted],
            [m.xaction_id for _, m in wanted],
            [m.digest for _, m in wanted],
        ),
    )
    return {(org_id, msg_id) for org_id, msg_id in cursor.fetchall()}


def _first_messages(cursor: psycopg.Cursor[Any], keys: list[_Key]) -> dict[_Key, FirstMessage]:
    if not keys:
        return {}
    cursor.execute(
        "SELECT org_id, msg_id, xaction_id, digest FROM message_ids WHERE (org_id, msg_id) IN "
        "(SELECT * FROM unnest(%s::text[], %s::text[]))",
        ([org_id for org_id, _ in keys], [msg_id for _, msg_id in keys]),
    )
    found = {
        (org_id, msg_id): FirstMessage(xaction_id, None if digest is None else bytes(digest))
        for org_id, msg_id, xaction_id, digest in cursor.fetchall()
    }
    if len(found) != len(keys):  # a claim that lost to a row since deleted: nothing deletes
        raise StoreError("a message id was neither claimed nor found")
    return found


def _insert_messages(cursor: psycopg.Cursor[Any], messages: list[IncomingMessage]) -> None:
    # Records take their seqs first, so that match outcomes can point at them, in order.
    valid = sum(1 for m in messages if m.reasons is None)
    if valid:  # before drawing them: readers following records wait for these (0016)
        cursor.execute("SELECT announce_seq_draws('records')")
    next_seq = iter(next_ids(cursor, "records", "seq", valid))
    records: list[tuple[Any, ...]] = []
    failures: list[tuple[Any, ...]] = []
    matches: list[tuple[Any, ...]] = []
    for m in messages:
        record_seq = None
        if m.reasons is None:
            record_seq = next(next_seq)
            records.append(
                (record_seq, m.org_id, m.dataset_id, m.inlet_id, m.schema_id, m.xaction_id,
                 _optional_text(m.msg_id), m.received_ms, m.payload)
            )  # fmt: skip
        else:
            failures.append(
                (m.org_id, m.inlet_id, m.dataset_id, m.schema_id, m.xaction_id,
                 _optional_text(m.msg_id), m.received_ms, m.reasons, m.payload)
            )  # fmt: skip
        matches.extend(
            (record_seq, m.org_id, e.event_name, m.xaction_id, m.received_ms, e.matched,
             _optional_text(e.identity), None if e.cause is None else str(e.cause),
             _optional_text(e.reason))
            for e in m.matches or ()
        )  # fmt: skip
    copy_rows(
        cursor,
        "records (seq, org_id, dataset_id, inlet_id, schema_id, xaction_id, msg_id, "
        "received_ms, message)",
        ["int8", "text", "text", "text", "text", "text", "text", "int8", "bytea"],
        records,
    )
    copy_rows(
        cursor,
        "failures (org_id, inlet_id, dataset_id, schema_id, xaction_id, msg_id, received_ms, "
        "reasons, message)",
        ["text", "text", "text", "text", "text", "text", "int8", "bytea", "bytea"],
        failures,
    )
    copy_rows(
        cursor,
        "event_matches (record_seq, org_id, event_name, xaction_id, received_ms, matched, "
        "identity, cause, reason)",
        ["int8", "text", "text", "text", "int8", "bool", "text", "text", "text"],
        matches,
    )
