"""The embedded store's directory and files: private to the user Wayfare runs as (the
directory 0700, the database and every file beside it 0600), and checked writable before
anything opens them, so a start on a directory that cannot be written says so at once
instead of waiting on a lock that cannot be taken."""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import stat
from pathlib import Path

from wayfare.errors import ConflictError, StoreError

log = logging.getLogger(__name__)

PRIVATE_DIRECTORY = 0o700
PRIVATE_FILE = 0o600
DATABASE_SIDES = ("-wal", "-shm", "-writers")
"""The files SQLite and the writers keep beside the database (``<db>-wal`` ...)."""
_READ_ONLY = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def prepare_data_dir(directory: Path, files: tuple[str, ...] = ()) -> None:
    """Create ``directory`` (0700), or narrow it to 0700, and the ``files`` in it that
    already exist to 0600; a StoreError if it cannot be created or written."""
    _writable_directory(directory, "the data directory")
    _narrow(directory, PRIVATE_DIRECTORY)
    for name in files:
        _narrow(directory / name, PRIVATE_FILE)


def prepare_database(database: Path) -> None:
    """Create the database file 0600 before SQLite does (the files SQLite adds beside it
    take its mode), narrow the ones already there, and check it can be written. Its
    directory is created 0700 when missing, and left as it is otherwise."""
    _writable_directory(database.parent, "the database's directory")
    for path in (database, *(database.with_name(database.name + s) for s in DATABASE_SIDES)):
        _narrow(path, PRIVATE_FILE)
    try:
        os.close(os.open(database, os.O_RDWR | os.O_CREAT, PRIVATE_FILE))
    except OSError as exc:
        raise _not_writable(f"the database file {database}", exc) from exc


def _writable_directory(directory: Path, what: str) -> None:
    try:
        directory.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
    except OSError as exc:
        if exc.errno == errno.EROFS:
            raise _not_writable(f"{what} {directory}", exc) from exc
        raise StoreError(f"{what} {directory} cannot be created: {exc.strerror}") from exc
    probe = directory / f".wayfare-probe-{os.getpid()}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
        probe.unlink()
    except OSError as exc:
        raise _not_writable(f"{what} {directory}", exc) from exc


def _not_writable(what: str, exc: OSError) -> StoreError:
    if exc.errno in _READ_ONLY:
        return StoreError(f"{what} is read-only ({exc.strerror})")
    return StoreError(f"{what} cannot be written: {exc.strerror}")


def _narrow(path: Path, mode: int) -> None:
    """Take from ``path`` every permission beyond ``mode``; a file that is not there, or
    that another user owns, is left as it is."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if not current & ~mode:
        return
    try:
        os.chmod(path, current & mode)
    except PermissionError:
        log.warning("%s is open to other users (%o) and not ours to change", path, current)


SERVER_LOCK = "server.lock"
"""Held by the ``serve`` process of a data directory while it runs, its pid inside."""


def hold_data_dir(directory: Path) -> int:
    """Take the data directory for this process: an exclusive lock on ``server.lock`` in
    it, with this process's pid written inside, kept until the returned descriptor is
    closed or the process ends (a file lock is released the moment its holder dies). A
    ConflictError naming the holder's pid when another server has it."""
    prepare_data_dir(directory, files=(SERVER_LOCK,))
    path = directory / SERVER_LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise ConflictError(
            f"the data directory {directory} is in use by process {holder}"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd
