"""ProfileStore on SQLite: the statements of store/sql_profiles.py on the embedded file."""

from __future__ import annotations

from wayfare.store.sql_profiles import SQLProfileStore
from wayfare.store.sqlite.connection import SQLiteDatabase


class SQLiteProfileStore(SQLiteDatabase, SQLProfileStore):
    """ProfileStore on SQLite."""
