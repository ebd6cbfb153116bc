"""An embedded store migrated up to a given migration, for tests of the migrations after it."""

from __future__ import annotations

from pathlib import Path

from yoyo import get_backend

from wayfare.store.sqlite.connection import _migrations


def migrated_to(path: Path, last: str) -> None:
    """The SQLite file at ``path`` migrated up to the migration ``last``, included."""
    backend = get_backend(f"sqlite:///{path}")
    try:
        with backend.lock():
            pending = backend.to_apply(_migrations())
            backend.apply_migrations(pending.filter(lambda m: m.id <= last))
    finally:
        backend.connection.close()
