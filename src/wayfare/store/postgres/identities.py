"""The identity graph on PostgreSQL: the statements of store/sql_identities.py over a pool,
with transaction-scoped advisory locks so that links made at the same time by several
processes take turns where they touch the same identities or persons."""

from __future__ import annotations

from collections.abc import Collection

from wayfare.store.postgres.connection import PostgresDatabase
from wayfare.store.sql_identities import SQLIdentityGraph
from wayfare.store.sql_resources import Statements


def advisory_locks(conn: Statements, keys: Collection[str]) -> None:
    """Hold an advisory lock per key until the transaction ends, taken in the order of the
    keys' hashes (two transactions locking overlapping keys never each wait for the other
    while locking one set; a key hashing alike another only makes it wait a moment)."""
    if not keys:
        return
    conn.execute(
        "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtextextended(k, 0) AS h "
        "FROM unnest(?::text[]) AS k ORDER BY h) AS keys",
        (list(keys),),
    )


class PostgresIdentityGraph(PostgresDatabase, SQLIdentityGraph):
    """IdentityGraph on PostgreSQL. Owns ``pool``: ``close`` closes it."""

    def _lock_keys(self, conn: Statements, keys: Collection[str]) -> None:
        advisory_locks(conn, keys)
