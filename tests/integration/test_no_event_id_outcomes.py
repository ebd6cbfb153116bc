"""The migration that drops the outcomes kept for messages without an eventID (SQLite's
0024, PostgreSQL's 0019): an event's messages now tell those from their records, so the
kept ones would be told twice. Every other outcome stays, even one SQLite kept before its
migration 0003 gave outcomes their record's seq."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from tests.postgres import fresh_database
from tests.sqlite_migrations import migrated_to
from wayfare.store.postgres.connection import connect
from wayfare.store.postgres.connection import migrate as migrate_postgres
from wayfare.store.sqlite.connection import migrate as migrate_sqlite
from wayfare.store.sqlite.resources import SQLiteStore

ORG = "ACME@AdobeOrg"
KEPT = [
    # (record_seq, event_name, xaction_id, matched, identity, cause)
    (1, "signup", "x1", True, "ada@example.com", None),
    (2, "signup", "x2", False, None, "no eventID"),
    (2, "second", "x2", False, None, "no eventID"),
    (3, "*schema", "x3", False, None, "no eventID"),
    (4, "*schema", "x4", False, None, "unknown eventID"),
    (5, "purchase", "x5", False, None, "condition not met"),
]
LEFT = [("x1", "signup"), ("x4", "*schema"), ("x5", "purchase")]
INSERT = (
    "INSERT INTO event_matches (record_seq, org_id, event_name, xaction_id, received_ms, "
    "matched, identity, cause, reason) VALUES ({})"
)


def rows(
    seq: int | None, name: str, x: str, matched: bool, identity: Any, cause: Any
) -> tuple[Any, ...]:
    return (seq, ORG, name, x, 1000, matched, identity, cause, cause)


def test_sqlite_drops_the_outcomes_kept_for_messages_without_an_event_id(tmp_path: Path) -> None:
    path = tmp_path / "wayfare.sqlite3"
    migrated_to(path, "0023.audience_entry_chains")
    with sqlite3.connect(path) as conn:
        conn.executemany(INSERT.format(", ".join("?" * 9)), [rows(*k) for k in KEPT])
    migrate_sqlite(path)
    with sqlite3.connect(path) as conn:
        left = conn.execute("SELECT xaction_id, event_name FROM event_matches ORDER BY seq")
        assert left.fetchall() == LEFT


def test_an_outcome_kept_before_outcomes_had_a_record_seq_is_listed(tmp_path: Path) -> None:
    path = tmp_path / "wayfare.sqlite3"
    migrate_sqlite(path)
    with sqlite3.connect(path) as conn:
        conn.executemany(
            INSERT.format(", ".join("?" * 9)),
            [rows(None, "signup", "old", True, "ada@example.com", None),
             rows(7, "signup", "new", True, "ada@example.com", None)],
        )  # fmt: skip
    store = SQLiteStore(path)
    try:
        found = store.list_event_matches(ORG, "signup", limit=10)
    finally:
        store.close()
    assert [(m.xaction_id, m.seq) for m in found] == [("new", 7), ("old", 0)]


def test_postgres_drops_the_outcomes_kept_for_messages_without_an_event_id(
    pg_server_url: str,
) -> None:
    with fresh_database(pg_server_url, without="0019.no_event_id_outcomes") as url:
        with connect(url) as conn:
            conn.cursor().executemany(
                INSERT.format(", ".join(["%s"] * 9)), [rows(*k) for k in KEPT]
            )
        migrate_postgres(url)
        with connect(url) as conn:
            left = conn.execute("SELECT xaction_id, event_name FROM event_matches ORDER BY seq")
            assert left.fetchall() == LEFT
