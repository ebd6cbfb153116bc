"""The embedded event log: the records table read in ``seq`` order."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from wayfare.model.records import Record
from wayfare.store.sqlite import connect, record_from_row, store_errors


class SQLiteEventLog:
    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.Lock()

    def read(self, *, after_seq: int, limit: int) -> list[Record]:
        with self._lock, store_errors():
            rows = self._conn.execute(
                "SELECT * FROM records WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
            ).fetchall()
        return [record_from_row(r) for r in rows]

    def last_seq(self) -> int:
        with self._lock, store_errors():
            row = self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM records").fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
