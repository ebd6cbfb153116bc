"""The journey catalog on SQLite: journey versions, their states, test profiles."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson

from wayfare.model.runs import JourneyState, JourneyVersion
from wayfare.store.sqlite.connection import SQLiteDatabase
from wayfare.store.sqlite.leases import SQLiteLeases
from wayfare.store.sqlite.runs import SQLiteRunStore
from wayfare.store.sqlite.writer import SQLiteWriter

ACTIVE = ("live", "closed", "draft")
"""States of versions that can hold people."""


def _version(r: sqlite3.Row) -> JourneyVersion:
    return JourneyVersion(
        org_id=r["org_id"],
        name=r["name"],
        version=r["version"],
        state=r["state"],
        entry_event=r["entry_event"],
        definition=orjson.loads(r["definition"]),
        test_mode=bool(r["test_mode"]),
        created_ms=r["created_ms"],
        changed_ms=r["changed_ms"],
    )


class SQLiteJourneyCatalog(SQLiteDatabase):
    @property
    def generation(self) -> int:
        """Kept in the database by triggers on ``journeys`` (migration 0006), so a change made
        by any connection or process moves it, in the change's own transaction."""
        row = self._one("SELECT n FROM journey_generation")
        assert row is not None  # the migration adds the one row
        return int(row["n"])

    def add_journey_version(self, version: JourneyVersion) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO journeys (org_id, name, version, state, test_mode, entry_event, "
                "definition, created_ms, changed_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    version.org_id,
                    version.name,
                    version.version,
                    version.state,
                    int(version.test_mode),
                    version.entry_event,
                    orjson.dumps(version.definition).decode(),
                    version.created_ms,
                    version.changed_ms,
                ),
            )

    def replace_draft(self, version: JourneyVersion) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE journeys SET definition = ?, entry_event = ?, changed_ms = ? "
                "WHERE org_id = ? AND name = ? AND version = ? AND state = 'draft'",
                (
                    orjson.dumps(version.definition).decode(),
                    version.entry_event,
                    version.changed_ms,
                    version.org_id,
                    version.name,
                    version.version,
                ),
            )

    def get_journey(
        self, org_id: str, name: str, version: int | None = None
    ) -> JourneyVersion | None:
        if version is None:
            row = self._one(
                "SELECT * FROM journeys WHERE org_id = ? AND name = ? "
                "ORDER BY version DESC LIMIT 1",
                (org_id, name),
            )
        else:
            row = self._one(
                "SELECT * FROM journeys WHERE org_id = ? AND name = ? AND version = ?",
                (org_id, name, version),
            )
        return _version(row) if row else None

    def journey_versions(self, org_id: str, name: str) -> list[JourneyVersion]:
        rows = self._all(
            "SELECT * FROM journeys WHERE org_id = ? AND name = ? ORDER BY version", (org_id, name)
        )
        return [_version(r) for r in rows]

    def list_journeys(self, org_id: str) -> list[JourneyVersion]:
        rows = self._all(
            "SELECT j.* FROM journeys j WHERE j.org_id = ? AND j.version = (SELECT MAX(version) "
            "FROM journeys WHERE org_id = j.org_id AND name = j.name) ORDER BY j.name",
            (org_id,),
        )
        return [_version(r) for r in rows]

    def set_journey_state(
        self,
        org_id: str,
        name: str,
        version: int,
        state: JourneyState,
        now_ms: int,
        test_mode: bool | None = None,
    ) -> None:
        with self._tx() as conn:
            _set_state(conn, org_id, name, version, state, now_ms, test_mode)

    def publish_journey(self, org_id: str, name: str, version: int, now_ms: int) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE journeys SET state = 'closed', changed_ms = ? "
                "WHERE org_id = ? AND name = ? AND state = 'live'",
                (now_ms, org_id, name),
            )
            _set_state(conn, org_id, name, version, "live", now_ms, False)

    def stop_journey(self, org_id: str, name: str, now_ms: int) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE journeys SET state = 'stopped', changed_ms = ? "
                "WHERE org_id = ? AND name = ? AND state IN (?, ?, ?)",
                (now_ms, org_id, name, *ACTIVE),
            )

    def entry_journeys(self, org_id: str, event: str) -> list[JourneyVersion]:
        rows = self._all(
            "SELECT * FROM journeys WHERE org_id = ? AND entry_event = ? AND "
            "(state = 'live' OR (state = 'draft' AND test_mode = 1))",
            (org_id, event),
        )
        return [_version(r) for r in rows]

    def active_versions(self, org_id: str) -> list[JourneyVersion]:
        rows = self._all(
            "SELECT * FROM journeys WHERE org_id = ? AND state IN (?, ?, ?) ORDER BY name, version",
            (org_id, *ACTIVE),
        )
        return [_version(r) for r in rows]

    def add_test_profile(self, org_id: str, identity: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO test_profiles (org_id, identity) VALUES (?, ?)",
                (org_id, identity),
            )

    def is_test_profile(self, org_id: str, identity: str) -> bool:
        row = self._one(
            "SELECT 1 FROM test_profiles WHERE org_id = ? AND identity = ?", (org_id, identity)
        )
        return row is not None


def _set_state(
    conn: sqlite3.Connection,
    org_id: str,
    name: str,
    version: int,
    state: JourneyState,
    now_ms: int,
    test_mode: bool | None,
) -> None:
    conn.execute(
        "UPDATE journeys SET state = ?, changed_ms = ?, test_mode = COALESCE(?, test_mode) "
        "WHERE org_id = ? AND name = ? AND version = ?",
        (state, now_ms, None if test_mode is None else int(test_mode), org_id, name, version),
    )


class SQLiteJourneyStore(SQLiteJourneyCatalog, SQLiteRunStore, SQLiteLeases):
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
