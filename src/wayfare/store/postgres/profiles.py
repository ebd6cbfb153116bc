"""ProfileStore on PostgreSQL: the statements of store/sql_profiles.py over a pool."""

from __future__ import annotations

from wayfare.model.profile_records import ProfileUpdate
from wayfare.store.postgres.connection import PostgresDatabase
from wayfare.store.sql_profiles import SQLProfileStore
from wayfare.store.sql_resources import Statements


class PostgresProfileStore(PostgresDatabase, SQLProfileStore):
    """ProfileStore on PostgreSQL. Owns ``pool``: ``close`` closes it."""

    def _lock_fragment(self, conn: Statements, update: ProfileUpdate) -> None:
        # A row lock cannot hold a fragment that has no row yet; the advisory lock can. Held
        # until the transaction ends; another fragment hashing alike only waits a moment.
        key = "\x1f".join(
            (update.org_id, update.identity.namespace, update.identity.id, update.dataset_id)
        )
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 1))", (key,))
