"""ResourceStore on PostgreSQL: the statements of store/sql_resources.py over a pool."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row

from wayfare.store.postgres.connection import Pool, store_errors
from wayfare.store.sql_resources import Row, SQLResourceStore, Statements


@functools.lru_cache(maxsize=256)
def _placeholders(sql: str) -> str:
    """The shared statements' ``?`` placeholders in psycopg's style."""
    return sql.replace("%", "%%").replace("?", "%s")


class _Statements:
    """A connection in a transaction, taking the shared statements."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> psycopg.Cursor[Any]:
        return self._conn.execute(_placeholders(sql), params)


class PostgresStore(SQLResourceStore):
    """ResourceStore on PostgreSQL. Owns ``pool``: ``close`` closes it."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[Row]:
        with store_errors(), self._pool.connection() as conn:
            cursor = conn.cursor(row_factory=dict_row)
            return list(cursor.execute(_placeholders(sql), params).fetchall())

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> Row | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    @contextlib.contextmanager
    def _tx(self) -> Iterator[_Statements]:
        with store_errors(), self._pool.connection() as conn, conn.transaction():
            yield _Statements(conn)

    def _lock_schema_name(self, conn: Statements, org_id: str, name: str) -> None:
        # Held until the transaction ends; another name hashing alike only waits a moment.
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (f"{org_id}/{name}",))

    def close(self) -> None:
        self._pool.close()
