"""Statements built for many rows at once: each statement is one trip through the driver, and
one release and re-acquisition of the GIL (which, while other threads are busy, can wait a
switch interval), so many rows per trip beat one."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence

from wayfare.store.sql_resources import insert_sql, insert_values, marks

ROWS_PER_STATEMENT = 500
IN_CHUNK = 500


def insert_rows(
    conn: sqlite3.Connection, target: str, rows: Sequence[tuple[object, ...]], suffix: str = ""
) -> None:
    """``INSERT INTO <target> VALUES (...), (...), ... <suffix>``, ROWS_PER_STATEMENT rows a
    statement (``suffix``: an ``ON CONFLICT`` clause, say)."""
    insert_values(conn, target, rows, suffix, ROWS_PER_STATEMENT)


def insert_numbered(
    conn: sqlite3.Connection, target: str, rows: Sequence[tuple[object, ...]]
) -> list[int]:
    """Insert ``rows`` into a table whose INTEGER PRIMARY KEY is left to SQLite, and return
    the key each row got, in order. SQLite gives the rows of one statement consecutive rowids
    in the order of its VALUES (each one more than the largest so far: the rowid sequence,
    inside the one write transaction SQLite allows at a time); ``last_insert_rowid()`` names
    the last."""
    keys: list[int] = []
    columns = len(rows[0]) if rows else 0
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        conn.execute(
            insert_sql(target, columns, len(chunk)),
            [value for row in chunk for value in row],
        )
        last = int(conn.execute("SELECT last_insert_rowid()").fetchone()[0])
        keys.extend(range(last - len(chunk) + 1, last + 1))
    return keys


def in_chunks(keys: Sequence[object]) -> Iterator[tuple[str, tuple[object, ...]]]:
    """``(marks, chunk)`` pairs for ``... IN ({marks})`` over ``keys``, IN_CHUNK at a time."""
    for start in range(0, len(keys), IN_CHUNK):
        chunk = tuple(keys[start : start + IN_CHUNK])
        yield marks(len(chunk)), chunk
