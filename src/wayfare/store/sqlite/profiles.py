"""ProfileStore on SQLite: the statements of store/sql_profiles.py and
store/sql_person_events.py on the embedded file."""

from __future__ import annotations

from wayfare.store.sql_person_events import SQLPersonEvents
from wayfare.store.sql_profiles import SQLProfileStore
from wayfare.store.sqlite.connection import SQLiteDatabase


class SQLiteProfileStore(SQLiteDatabase, SQLProfileStore, SQLPersonEvents):
    """ProfileStore on SQLite."""
