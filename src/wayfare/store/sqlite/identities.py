"""The identity graph on SQLite: the statements of store/sql_identities.py on the embedded
file (its writers take turns, so links need no locks of their own)."""

from __future__ import annotations

from wayfare.store.sql_identities import SQLIdentityGraph
from wayfare.store.sqlite.connection import SQLiteDatabase


class SQLiteIdentityGraph(SQLiteDatabase, SQLIdentityGraph):
    """IdentityGraph on SQLite."""
