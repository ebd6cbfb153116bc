"""ResourceStore on PostgreSQL: the statements of store/sql_resources.py over a pool."""

from __future__ import annotations

from wayfare.store.postgres.connection import PostgresDatabase
from wayfare.store.sql_resources import SQLResourceStore, Statements


class PostgresStore(PostgresDatabase, SQLResourceStore):
    """ResourceStore on PostgreSQL. Owns ``pool``: ``close`` closes it."""

    def _lock_schema_name(self, conn: Statements, org_id: str, name: str) -> None:
        # Held until the transaction ends; another name hashing alike only waits a moment.
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (f"{org_id}/{name}",))
