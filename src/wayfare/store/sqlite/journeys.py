"""The journey store on SQLite: the catalog and reports of store/sql_journeys.py, the run
store (runs.py) and the leases (leases.py) on the embedded file."""

from __future__ import annotations

from pathlib import Path

from wayfare.store.sql_journeys import SQLJourneyCatalog, SQLJourneyReports
from wayfare.store.sqlite.leases import SQLiteLeases
from wayfare.store.sqlite.runs import SQLiteRunStore
from wayfare.store.sqlite.writer import SQLiteWriter


class SQLiteJourneyStore(SQLiteRunStore, SQLiteLeases, SQLJourneyCatalog, SQLJourneyReports):
    """JourneyStore and PartitionLeases on SQLite. The engine's commits go through the
    group-commit writer when one runs on the same file (see writer.py)."""

    def __init__(
        self, path: Path, *, fsync: bool = True, writer: SQLiteWriter | None = None
    ) -> None:
        super().__init__(path, fsync=fsync)
        self._fsync = fsync
        self._writer = writer

    def another_connection(self) -> SQLiteJourneyStore:
        """The same store on a connection of its own: the engine's reads then never wait
        behind an admin's report."""
        return SQLiteJourneyStore(self.path, fsync=self._fsync, writer=self._writer)
