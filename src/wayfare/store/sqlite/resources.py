"""ResourceStore on SQLite: the statements of store/sql_resources.py on the embedded file."""

from __future__ import annotations

from wayfare.store.sql_resources import SQLResourceStore
from wayfare.store.sqlite.connection import SQLiteDatabase


class SQLiteStore(SQLiteDatabase, SQLResourceStore):
    """ResourceStore on SQLite."""
