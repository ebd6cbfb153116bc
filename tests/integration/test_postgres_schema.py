"""The PostgreSQL store's migrations and connections: applied once, the tables the stores
and engines need, the journey generation counter, a clear error for a server that cannot be
reached, driver errors mapped to Wayfare's."""

from __future__ import annotations

import time
from typing import Any

import orjson
import psycopg
import pytest

from tests.conftest import free_port
from tests.contract.conftest import ORG, T0
from tests.contract.test_journey_store import instance
from tests.postgres import fresh_database
from wayfare.errors import InvalidRequestError, StoreError
from wayfare.model.records import AccessToken
from wayfare.model.resources import Inlet
from wayfare.store.postgres.connection import connect, migrate, open_pool, yoyo_url
from wayfare.store.postgres.journeys import PostgresJourneyStore
from wayfare.store.postgres.resources import PostgresStore

pytestmark = pytest.mark.integration

TABLES = {
    "orgs", "schemas", "datasets", "inlets", "tokens", "records", "failures", "message_ids",
    "events", "event_matches", "journeys", "journey_generation", "instances", "timers",
    "outbox", "step_events", "step_counts", "discards", "test_profiles", "log_positions",
    "partition_leases", "workers", "test_entries", "resource_generation", "profile_fragments",
    "merge_policies", "identity_namespaces", "persons", "identity_links", "person_merges",
    "identity_drops",
}  # fmt: skip


def applied(url: str) -> list[str]:
    with connect(url) as conn:
        rows = conn.execute("SELECT migration_id FROM _yoyo_migration ORDER BY migration_id")
        return [migration_id for (migration_id,) in rows]


def test_migrating_again_changes_nothing_whatever_the_url_scheme(pg_database: str) -> None:
    before = applied(pg_database)
    assert before == [
        "0001.initial",
        "0002.journeys",
        "0003.resource_generation",
        "0004.journey_pauses",
        "0005.message_digests",
        "0006.dataset_retention",
        "0007.identity_graph",
        "0008.profile_fragments",
        "0009.console_reads",
        "0010.person_journeys",
        "0011.audiences",
        "0012.forwarded_events",
        "0013.audience_entries",
        "0014.person_events",
        "0015.waiting_counts",
        "0016.followed_seqs",
        "0017.inlet_rates",
        "0018.audience_entry_chains",
        "0019.no_event_id_outcomes",
    ]
    migrate(pg_database)
    migrate(pg_database.replace("postgresql://", "postgres://", 1))
    assert applied(pg_database) == before


def test_the_tables_are_there_with_partitions_where_engines_share_work(
    pg_database: str,
) -> None:
    with connect(pg_database) as conn:
        tables = {
            name
            for (name,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        }
        partitioned = {
            table
            for (table,) in conn.execute(
                "SELECT table_name FROM information_schema.columns "
                "WHERE column_name = 'partition' AND data_type = 'integer' "
                "AND table_schema = current_schema()"
            )
        }
        cause = conn.execute(
            "SELECT 1 FROM information_schema.columns "
            "WHERE table_name = 'event_matches' AND column_name = 'cause'"
        ).fetchall()
    assert tables >= TABLES
    assert partitioned >= {"instances", "timers", "outbox", "test_entries", "audience_entries"}
    assert cause


def generation(conn: psycopg.Connection[Any], table: str = "journey_generation") -> int:
    row = conn.execute(f"SELECT n FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def test_the_journey_generation_moves_with_each_change_in_the_change_s_own_transaction(
    pg_database: str,
) -> None:
    insert = (
        "INSERT INTO journeys (org_id, name, version, state, entry_event, definition, "
        "created_ms, changed_ms) VALUES (%s, %s, 1, 'draft', 'signup', '{}', 0, 0)"
    )
    with connect(pg_database) as conn, connect(pg_database) as other:
        start = generation(other)
        conn.execute(insert, (ORG, "welcome"))
        assert generation(other) == start + 1
        conn.execute("UPDATE journeys SET state = 'live' WHERE name = 'welcome'")
        assert generation(other) == start + 2
        with conn.transaction():
            conn.execute(insert, (ORG, "winback"))
            assert generation(conn) == start + 3
            assert generation(other) == start + 2  # not before the change commits
        conn.execute("DELETE FROM journeys WHERE name = 'winback'")
        assert generation(other) == start + 4
        with pytest.raises(psycopg.errors.UniqueViolation), conn.transaction():
            conn.execute(insert, (ORG, "welcome"))
        assert generation(other) == start + 4


def test_the_resource_generation_moves_with_a_change_only_once_it_commits(
    pg_database: str,
) -> None:
    insert = (
        "INSERT INTO inlets (inlet_id, org_id, name, body, created_ms) VALUES (%s, %s, %s, '{}', 0)"
    )
    with connect(pg_database) as conn, connect(pg_database) as other:
        start = generation(other, "resource_generation")
        with conn.transaction():
            conn.execute(insert, ("one", ORG, "web"))
            assert generation(conn, "resource_generation") == start + 1
            assert generation(other, "resource_generation") == start  # not before the commit
        assert generation(other, "resource_generation") == start + 1
        with pytest.raises(psycopg.errors.UniqueViolation), conn.transaction():
            conn.execute(insert, ("two", ORG, "web"))
        assert generation(other, "resource_generation") == start + 1


def test_a_server_that_cannot_be_reached_fails_at_once_saying_where_and_why() -> None:
    port = free_port()
    url = f"postgresql://wayfare:secret@127.0.0.1:{port}/wayfare"
    for attempt in (open_pool, migrate, connect):
        started = time.monotonic()
        with pytest.raises(StoreError) as failed:
            attempt(url)
        assert time.monotonic() - started < 5
        message = str(failed.value)
        assert f"127.0.0.1:{port}/wayfare" in message
        assert "Connection refused" in message
        assert "\n" not in message and "secret" not in message


def test_yoyo_is_given_its_psycopg_3_backend_and_a_connect_timeout() -> None:
    assert yoyo_url("postgresql://u@h:5/db") == "postgresql+psycopg://u@h:5/db?connect_timeout=5"
    assert yoyo_url("postgres://u@h/db?connect_timeout=2&sslmode=disable") == (
        "postgresql+psycopg://u@h/db?connect_timeout=2&sslmode=disable"
    )
    with pytest.raises(InvalidRequestError):
        yoyo_url("sqlite:///tmp/x.db")


def test_values_the_server_cannot_keep_are_the_caller_s_error(pg_database: str) -> None:
    store = PostgresStore(open_pool(pg_database, max_size=1))
    try:
        with pytest.raises(InvalidRequestError, match="out of range"):
            store.add_token(AccessToken("hash-1", "inlet-1", ORG, T0, 2**70))
        with pytest.raises(InvalidRequestError, match="NUL"):
            store.add_inlet(Inlet("inlet-1", ORG, "web\x00site", created_ms=T0))
        assert store.get_token("hash-1") is None and store.list_inlets(ORG) == []
    finally:
        store.close()


def test_the_migration_counts_the_people_already_waiting(pg_server_url: str) -> None:
    live = [instance(f"i-{n}", f"p{n}@x.io", status="waiting") for n in range(3)]
    elsewhere = instance("i-9", "q@x.io")
    elsewhere.node = "check"
    ended = instance("i-e", "e@x.io", status="finished", ended_ms=1)
    with fresh_database(pg_server_url, without="0015.waiting_counts") as url:
        with connect(url) as conn:
            for i in [*live, elsewhere, ended]:
                conn.execute(
                    "INSERT INTO instances (instance_id, org_id, journey, version, identity, "
                    "status, entered_ms, ended_ms, partition, state) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (i.instance_id, i.org_id, i.journey, i.version, i.identity, i.status,
                     i.entered_ms, i.ended_ms, i.partition, orjson.dumps(i).decode()),
                )  # fmt: skip
        migrate(url)
        store = PostgresJourneyStore(open_pool(url, max_size=1))
        try:
            assert store.live_by_node(ORG, "welcome") == {"wait-a-day": 3, "check": 1}
        finally:
            store.close()
