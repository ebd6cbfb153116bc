"""Lookups of several identities at once use SQLite's indexes: each identity is searched in
the index, never the org's rows scanned (the engine's cost would grow with the identity
graph); so do the reads of the stays of people entering and of an event's messages under
each of its names. Checked on the query plans of the statements the stores run."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from tests.people import ecid, email
from wayfare.store.sql_audiences import _count_query
from wayfare.store.sql_identities import owners_in
from wayfare.store.sql_profiles import _fragments_query, identities_clause
from wayfare.store.sqlite.connection import migrate
from wayfare.store.sqlite.resources import SQLiteStore
from wayfare.store.sqlite.runs import SQLiteRunStore

ORG = "ACME@AdobeOrg"
PEOPLE = [email("ada@example.com"), ecid("e-1"), email("bob@example.com")]


class Explaining:
    """Statements that keep the query plan of each statement run, and answer no rows."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.plans: list[str] = []

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        self.plans.append(plan(self.conn, sql, params))
        return self.conn.execute("SELECT 1 WHERE 0")


def plan(conn: sqlite3.Connection, sql: str, params: Any) -> str:
    return " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))


def searched_per_identity(found: str, table: str) -> bool:
    return "MULTI-INDEX OR" in found and f"SCAN {table}" not in found and "(org_id=?)" not in found


def test_identity_lookups_search_the_index_for_each_identity(tmp_path: Path) -> None:
    path = tmp_path / "wayfare.sqlite3"
    migrate(path)
    with closing(sqlite3.connect(path)) as conn:
        explaining = Explaining(conn)
        owners_in(explaining, ORG, PEOPLE)
        [links] = explaining.plans
        assert searched_per_identity(links, "identity_links"), links
        fragments = plan(conn, *_fragments_query(ORG, PEOPLE))
        assert searched_per_identity(fragments, "profile_fragments"), fragments
        counted = plan(conn, *_count_query(ORG, PEOPLE, "purchase", 86_400_000, 10**12, 10_000))
        assert searched_per_identity(counted, "identity_events"), counted
        clause, params = identities_clause(ORG, PEOPLE)
        kept = plan(conn, f"SELECT * FROM person_events WHERE {clause}", params)
        assert searched_per_identity(kept, "person_events"), kept


def plan_of_the_read(path: Path, store: Any, read: Callable[[Any], object]) -> str:
    """The plan of the one statement ``read(store)`` runs through the store's ``_all``."""
    ran: list[tuple[str, Any]] = []

    def recorded(sql: str, params: Any = ()) -> list[sqlite3.Row]:
        ran.append((sql, params))
        return []

    store._all = recorded
    try:
        read(store)
    finally:
        store.close()
    [(sql, params)] = ran
    with closing(sqlite3.connect(path)) as conn:
        return plan(conn, sql, params)


def test_the_stays_of_people_entering_are_searched_per_identity(tmp_path: Path) -> None:
    """Left to itself, SQLite read these through the index already grouped by journey and
    identity: every instance of the org, a read per engine cycle."""
    path = tmp_path / "wayfare.sqlite3"
    migrate(path)
    found = plan_of_the_read(
        path,
        SQLiteRunStore(path),
        lambda store: store.latest_stays(ORG, ["ada@example.com", "bob@example.com"]),
    )
    assert "(org_id=? AND identity=?)" in found and "SCAN instances" not in found, found


def test_an_event_s_messages_are_read_through_the_index_for_each_name(tmp_path: Path) -> None:
    """Its own outcomes and those kept for all its schema's system events: two walks of
    the index from the newest, never the org's outcomes sorted."""
    path = tmp_path / "wayfare.sqlite3"
    migrate(path)
    found = plan_of_the_read(
        path,
        SQLiteStore(path),
        lambda store: store.list_event_matches(ORG, "signup", limit=20, also=["*schema-1"]),
    )
    walks = found.count("USING INDEX event_matches_by_event (org_id=? AND event_name=?)")
    assert walks == 2 and "SCAN event_matches" not in found, found
