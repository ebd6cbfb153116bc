"""PostgreSQL for tests: a database of the test session's own on the machine's server.

The machine's server is at ``WAYFARE_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``, a user allowed to create databases). Tests
share one migrated database, ``wayfare_test_<random>``, created for the session and dropped
after it; ``pg_database`` empties it before each test.

With ``CI=true`` a server that cannot be reached fails the tests that need it; otherwise those
tests are skipped, saying why.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest
from psycopg import sql

from wayfare.errors import StoreError
from wayfare.store.postgres.connection import connect, migrate

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/test"
UNPRIVILEGED_USER = "nobody"
KEPT_TABLES = ("journey_generation",)
"""Tables a test starts from as migrated rather than empty."""


def unavailable(reason: str) -> NoReturn:
    """Fail under CI, else skip: a test that needs PostgreSQL never passes without it."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required when CI=true: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL is not available: {reason}")


def with_database(url: str, database: str) -> str:
    """``url`` naming ``database`` instead."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, migrated database on ``server_url``'s server (its URL), dropped afterwards."""
    name = f"wayfare_test_{uuid.uuid4().hex[:12]}"
    with connect(server_url) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = with_database(server_url, name)
        migrate(url)
        yield url
    finally:
        with connect(server_url) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def empty_database(url: str) -> None:
    """Delete every row a test may have written (DELETE beats TRUNCATE on tiny tables)."""
    with connect(url) as conn, conn.transaction():
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename NOT LIKE %s AND tablename <> ALL(%s)",
            ("%yoyo%", list(KEPT_TABLES)),
        ).fetchall()
        for (table,) in tables:
            conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
        conn.execute("UPDATE journey_generation SET n = 0")


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """The machine's server, reachable (or the test fails under CI, else is skipped)."""
    url = os.environ.get("WAYFARE_TEST_POSTGRES_URL", DEFAULT_SERVER_URL)
    try:
        connect(url).close()
    except StoreError as exc:
        unavailable(f"{exc} (set WAYFARE_TEST_POSTGRES_URL to use another server)")
    return url


@pytest.fixture(scope="session")
def pg_session_database(pg_server_url: str) -> Iterator[str]:
    with fresh_database(pg_server_url) as url:
        yield url


@pytest.fixture
def pg_database(pg_session_database: str) -> str:
    """The URL of the session's database, emptied for this test."""
    empty_database(pg_session_database)
    return pg_session_database
