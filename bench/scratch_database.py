"""A migrated PostgreSQL database of its own for one benchmark, dropped afterwards."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from psycopg import sql

from wayfare.store.postgres.connection import connect, migrate


@contextlib.contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """The URL of a new database on ``server_url``'s server, migrated; dropped on exit."""
    name = f"wayfare_bench_{uuid.uuid4().hex[:8]}"
    with connect(server_url) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = server_url.rsplit("/", 1)[0] + f"/{name}"
        migrate(url)
        yield url
    finally:
        with connect(server_url) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
