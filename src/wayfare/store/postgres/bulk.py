"""Writing many rows in few trips: binary COPY, and ids drawn from a table's identity sequence
before its rows are written (so that rows can point at each other, and callers learn each
row's id in their own order)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg


def copy_rows(
    cursor: psycopg.Cursor[Any], target: str, types: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """``COPY <target> FROM STDIN`` in binary: one trip for any number of rows."""
    if not rows:
        return
    with cursor.copy(f"COPY {target} FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(list(types))
        for row in rows:
            copy.write_row(row)


def next_ids(cursor: psycopg.Cursor[Any], table: str, column: str, count: int) -> list[int]:
    """``count`` new values of ``table.column``'s identity sequence, increasing. Values are
    never given twice, whatever other transactions draw meanwhile (theirs may fall between)."""
    if count <= 0:
        return []
    # The sequence is looked up once: pg_get_serial_sequence per row would triple the cost.
    cursor.execute(
        "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, %s)::regclass AS seq) "
        "SELECT nextval(s.seq) FROM s, generate_series(1, %s)",
        (table, column, count),
    )
    return sorted(value for (value,) in cursor.fetchall())
