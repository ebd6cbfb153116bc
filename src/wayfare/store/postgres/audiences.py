"""AudienceStore on PostgreSQL: the statements of store/sql_audiences.py over a pool."""

from __future__ import annotations

from wayfare.store.postgres.connection import PostgresDatabase
from wayfare.store.sql_audiences import SQLAudienceStore


class PostgresAudienceStore(PostgresDatabase, SQLAudienceStore):
    """AudienceStore on PostgreSQL. Owns ``pool``: ``close`` closes it."""
