"""What consumers need from the event log."""

from __future__ import annotations

from typing import Protocol

from wayfare.model.records import Record


class EventLog(Protocol):
    def read(self, *, after_seq: int, limit: int) -> list[Record]:
        """Accepted valid messages with ``seq > after_seq``, oldest first."""
        ...

    def last_seq(self) -> int: ...
