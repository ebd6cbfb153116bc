"""The embedded store's file: where it lives, its migrations (yoyo), its connections, and the
one mapping from the driver's errors to Wayfare's."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from yoyo import get_backend, read_migrations

from wayfare.errors import ConflictError, InvalidRequestError, StoreError

DB_FILE = "wayfare.sqlite3"


def database_path(data_dir: Path) -> Path:
    return data_dir / DB_FILE


def _migrations() -> Any:
    source = resources.files("wayfare.store.sqlite") / "migrations"
    with resources.as_file(source) as folder:
        return read_migrations(str(folder))


def migrate(path: Path) -> None:
    """Bring the database file up to the latest schema."""
    path.parent.mkdir(parents=True, exist_ok=True)
    backend = get_backend(f"sqlite:///{path}")
    try:
        with backend.lock():
            backend.apply_migrations(backend.to_apply(_migrations()))
    finally:
        with contextlib.suppress(Exception):
            backend.connection.close()


def pending_migrations(path: Path) -> list[str]:
    """The migrations this Wayfare has that the file has not applied."""
    backend = get_backend(f"sqlite:///{path}")
    try:
        with store_errors():
            return [m.id for m in backend.to_apply(_migrations())]
    finally:
        with contextlib.suppress(Exception):
            backend.connection.close()


def connect(
    path: Path, *, fsync: bool = True, factory: type[sqlite3.Connection] = sqlite3.Connection
) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, with a busy wait;
    ``factory`` is the class of the connection (a test's subclass can inject faults)."""
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=30, factory=factory
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


_FAULTS = {
    sqlite3.SQLITE_FULL: "disk full",
    sqlite3.SQLITE_READONLY: "read-only data directory",
}
_FAULT_WORDS = {
    "database or disk is full": "disk full",
    "attempt to write a readonly database": "read-only data directory",
}


def store_failure(exc: BaseException) -> StoreError:
    """A failure of the store as Wayfare's StoreError, naming what an operator can clear (a
    full disk, a read-only data directory) where the driver says so."""
    if isinstance(exc, StoreError):
        return exc
    cause = None
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)  # absent on errors raised by hand
        cause = _FAULTS.get(code & 0xFF) if code else _FAULT_WORDS.get(str(exc))
    error = StoreError(
        f"the store cannot write: {cause} ({exc})" if cause else f"the store failed: {exc}"
    )
    error.__cause__ = exc
    return error


def roll_back(conn: sqlite3.Connection) -> None:
    """End the open transaction, if SQLite has not already: on a full disk, among others,
    it rolls the whole transaction back itself, and a ROLLBACK then fails in its turn."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):  # the error that brought us here says why
            conn.execute("ROLLBACK")


@contextlib.contextmanager
def store_errors() -> Iterator[None]:
    """Map driver errors to Wayfare's own."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        raise ConflictError(f"conflicts with an existing resource: {exc}") from exc
    except OverflowError as exc:
        raise InvalidRequestError(f"a number is too large to store: {exc}") from exc
    except sqlite3.Error as exc:
        raise store_failure(exc) from exc


class SQLiteDatabase:
    """One connection to the database file, serialised by a lock: safe from any thread.
    The stores on SQLite build on it."""

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = path
        self._conn = connect(path, fsync=fsync)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, store_errors():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                roll_back(self._conn)
                raise
            self._conn.execute("COMMIT")

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock, store_errors():
            return self._conn.execute(sql, params).fetchall()

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        with self._lock, store_errors():
            row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
            return row

    def close(self) -> None:
        with self._lock:
            self._conn.close()
