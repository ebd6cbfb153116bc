"""AudienceStore on SQLite: the statements of store/sql_audiences.py on the embedded file."""

from __future__ import annotations

from wayfare.store.sql_audiences import SQLAudienceStore
from wayfare.store.sqlite.connection import SQLiteDatabase


class SQLiteAudienceStore(SQLiteDatabase, SQLAudienceStore):
    """AudienceStore on SQLite."""
