"""A copy of the embedded store's database while servers use it (``wayfare backup PATH``).

SQLite's online backup copies the database through a read transaction of its own: in WAL
mode readers do not block writers, so servers keep accepting and committing while it runs,
and the copy is the database as of the moment the read began (every commit before it, none
after). It is written beside the target first and renamed into place once synced, so a
target that exists is always a whole copy; one already there is not overwritten.

Restore: stop the server, put the copy in a data directory as ``wayfare.sqlite3`` (with no
``-wal`` or ``-shm`` file beside it), start the server on that directory.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from wayfare.errors import ConflictError, InvalidRequestError
from wayfare.store.sqlite.connection import store_errors
from wayfare.store.sqlite.files import PRIVATE_FILE


def backup_database(source: Path, target: Path) -> int:
    """Copy the database at ``source`` to ``target`` (a new file); its size in bytes."""
    if not source.is_file():
        raise InvalidRequestError(f"there is no database at {source}")
    if target.exists():
        raise ConflictError(f"{target} exists already; a backup never overwrites a file")
    partial = target.with_name(target.name + ".partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)  # e.g. backups/ on a first backup
        partial.unlink(missing_ok=True)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except OSError as exc:
        raise InvalidRequestError(f"cannot write {target}: {exc.strerror}") from exc
    os.close(fd)
    try:
        with store_errors():
            src = sqlite3.connect(source, timeout=30)
            try:
                dst = sqlite3.connect(partial)
                try:
                    src.backup(dst)  # all pages in one step: one read transaction
                    dst.execute("PRAGMA journal_mode=DELETE")  # one file, nothing beside it
                finally:
                    dst.close()
            finally:
                src.close()
        with open(partial, "rb") as copy:
            os.fsync(copy.fileno())
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return target.stat().st_size
