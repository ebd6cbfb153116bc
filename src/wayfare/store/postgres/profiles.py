"""ProfileStore on PostgreSQL: the statements of store/sql_profiles.py and
store/sql_person_events.py over a pool."""

from __future__ import annotations

from wayfare.model.profile_records import ProfileUpdate
from wayfare.store.postgres.connection import PostgresDatabase
from wayfare.store.postgres.identities import advisory_locks
from wayfare.store.sql_person_events import SQLPersonEvents
from wayfare.store.sql_profiles import SQLProfileStore, fragment_key
from wayfare.store.sql_resources import Statements


class PostgresProfileStore(PostgresDatabase, SQLProfileStore, SQLPersonEvents):
    """ProfileStore on PostgreSQL. Owns ``pool``: ``close`` closes it."""

    def _lock_fragment(self, conn: Statements, update: ProfileUpdate) -> None:
        # A row lock cannot hold a fragment that has no row yet; the advisory lock can. Held
        # until the transaction ends; another fragment hashing alike only waits a moment.
        # The journey engine's commits take the same lock (store/sql_profiles.py).
        advisory_locks(conn, [fragment_key(update)])
