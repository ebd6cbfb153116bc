"""The embedded event log: the records table read in ``seq`` order."""

from __future__ import annotations

from wayfare.model.records import Record
from wayfare.store.sqlite.connection import SQLiteDatabase
from wayfare.store.sqlite.resources import record_from_row


class SQLiteEventLog(SQLiteDatabase):
    def read(self, *, after_seq: int, limit: int) -> list[Record]:
        rows = self._all(
            "SELECT * FROM records WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
        )
        return [record_from_row(r) for r in rows]

    def last_seq(self) -> int:
        row = self._one("SELECT COALESCE(MAX(seq), 0) AS seq FROM records")
        return int(row["seq"]) if row else 0
