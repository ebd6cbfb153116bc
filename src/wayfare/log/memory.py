"""The in-memory event log: a MemoryStore's records read in ``seq`` order."""

from __future__ import annotations

from wayfare.model.records import Record
from wayfare.store.memory import MemoryStore


class MemoryEventLog:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def read(self, *, after_seq: int, limit: int) -> list[Record]:
        records = self._store.records  # seq is the position + 1
        return records[max(after_seq, 0) : max(after_seq, 0) + max(limit, 0)]

    def last_seq(self) -> int:
        return len(self._store.records)

    def close(self) -> None:
        pass
