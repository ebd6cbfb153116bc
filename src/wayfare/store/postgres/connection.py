"""The PostgreSQL store's server: its URL, its migrations (yoyo), a pool of connections, and
the one mapping from the driver's errors to Wayfare's.

Nothing connects at import time: a pool opens when ``open_pool`` is called (at start), and a
server that cannot be reached fails it at once with a one-line message naming where it
looked and what the driver said, rather than hanging.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg.types.string import TextLoader
from psycopg_pool import ConnectionPool
from yoyo import get_backend, read_migrations
from yoyo.exceptions import LockTimeout

from wayfare.errors import ConflictError, InvalidRequestError, StoreError
from wayfare.store.sql_resources import Row

CONNECT_TIMEOUT_SECONDS = 5
"""How long connecting to the server may take before it counts as unreachable."""

SCHEMES = ("postgresql", "postgres")
"""What a URL of the PostgreSQL store starts with (``postgresql://user@host:port/db``)."""

Pool = ConnectionPool[psycopg.Connection[Any]]


def describe(url: str) -> str:
    """Where ``url`` points, for messages: ``host:port/database``, never its password."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "an unreadable PostgreSQL URL"
    host = str(params.get("host") or "the local socket")
    port = str(params.get("port") or 5432)
    return f"{host}:{port}/{params.get('dbname', '')}"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _unreachable(url: str, exc: BaseException) -> StoreError:
    return StoreError(f"cannot reach PostgreSQL at {describe(url)}: {_one_line(exc)}")


def connect(url: str) -> psycopg.Connection[Any]:
    """One connection (autocommit, JSON columns read as their text), or StoreError soon."""
    try:
        conn = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS, autocommit=True)
    except psycopg.Error as exc:
        raise _unreachable(url, exc) from exc
    _configure(conn)
    return conn


def _configure(conn: psycopg.Connection[Any]) -> None:
    # JSON columns come back as the text stored, which the stores parse with orjson (as they
    # do SQLite's), rather than through the standard library's json.
    conn.adapters.register_loader("json", TextLoader)


def open_pool(
    url: str,
    *,
    min_size: int = 1,
    max_size: int = 4,
    timeout: float = 5.0,
    name: str = "wayfare",
    stuck_after_seconds: float | None = None,
) -> Pool:
    """A pool of autocommit connections to ``url``, open and checked: StoreError if the server
    cannot be reached.

    A few connections per process suit a 2-core host: the server's cores, not the pool, bound
    how many statements run at once. ``timeout`` is how long a caller waits for a connection
    (say, while the server restarts) before StoreError; a connection broken meanwhile is found
    by a check when taken and replaced.

    With ``stuck_after_seconds``, the server ends a session of the pool that leaves a
    transaction open, waiting for its next statement, for longer than that; and one whose
    process stops answering at the TCP level for about three times as long (what it sent
    unacknowledged, or its keepalive probes unanswered), even in the middle of a statement
    (a COPY waiting for rows that will never come): the process was paused or cut off, and
    the locks its session holds (partition leases, for journey engines) would otherwise
    stall every other process until the server noticed that the connection was dead, if it
    ever did. (A process that is only paused still answers at the TCP level: inside a COPY,
    it holds its locks until another engine's claim ends its session, leases.py.)
    """
    connect(url).close()  # a clear error now, rather than a pool retrying in the background
    configure = _configure
    if stuck_after_seconds is not None:
        idle_ms = max(1, round(stuck_after_seconds * 1000))
        probe_s = max(1, round(stuck_after_seconds))

        def configure(conn: psycopg.Connection[Any]) -> None:
            _configure(conn)
            conn.execute(f"SET idle_in_transaction_session_timeout = {idle_ms}")
            conn.execute(f"SET tcp_keepalives_idle = {probe_s}")
            conn.execute(f"SET tcp_keepalives_interval = {probe_s}")
            conn.execute("SET tcp_keepalives_count = 2")
            conn.execute(f"SET tcp_user_timeout = {3 * idle_ms}")

    pool: Pool = ConnectionPool(
        url,
        kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_SECONDS},
        min_size=min_size,
        max_size=max_size,
        open=False,
        configure=configure,
        check=ConnectionPool.check_connection,
        timeout=timeout,
        reconnect_timeout=timeout,
        name=name,
    )
    try:
        pool.open(wait=True, timeout=timeout + CONNECT_TIMEOUT_SECONDS)
    except psycopg.Error as exc:
        pool.close()
        raise _unreachable(url, exc) from exc
    return pool


def yoyo_url(url: str) -> str:
    """``url`` for yoyo's psycopg 3 backend (``postgresql+psycopg://``), with a connect
    timeout unless it names one."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise InvalidRequestError(f"not a PostgreSQL URL: {describe(url)}")
    query = dict(parse_qsl(parts.query))
    query.setdefault("connect_timeout", str(CONNECT_TIMEOUT_SECONDS))
    return urlunsplit(parts._replace(scheme="postgresql+psycopg", query=urlencode(query)))


def _migrations() -> Any:
    source = resources.files("wayfare.store.postgres") / "migrations"
    with resources.as_file(source) as folder:
        return read_migrations(str(folder))


def _backend(url: str) -> Any:
    try:
        return get_backend(yoyo_url(url))
    except psycopg.Error as exc:
        raise _unreachable(url, exc) from exc


def pending_migrations(url: str) -> list[str]:
    """The migrations this Wayfare has that the database has not applied."""
    backend = _backend(url)
    try:
        with store_errors():
            return [m.id for m in backend.to_apply(_migrations())]
    finally:
        with contextlib.suppress(Exception):
            backend.connection.close()


def migrate(url: str) -> None:
    """Bring the database up to the latest schema, under yoyo's lock (engines and servers
    starting together apply each migration once)."""
    migrations = _migrations()
    backend = _backend(url)
    try:
        with store_errors(), backend.lock():
            backend.apply_migrations(backend.to_apply(migrations))
    except LockTimeout as exc:
        raise StoreError(f"cannot migrate {describe(url)}: {exc}") from exc
    finally:
        with contextlib.suppress(Exception):
            backend.connection.close()


_INVALID = (psycopg.errors.NumericValueOutOfRange, psycopg.errors.InvalidTextRepresentation)


@contextlib.contextmanager
def store_errors() -> Iterator[None]:
    """Map driver errors to Wayfare's own."""
    try:
        yield
    except psycopg.errors.UniqueViolation as exc:
        raise ConflictError(f"conflicts with an existing resource: {_one_line(exc)}") from exc
    except _INVALID as exc:
        raise InvalidRequestError(f"a value the store cannot keep: {_one_line(exc)}") from exc
    except psycopg.DataError as exc:
        if exc.sqlstate is not None:  # the server's: a fault of ours, not of the value sent
            raise StoreError(f"the store failed: {_one_line(exc)}") from exc
        # psycopg's own refusal before sending, such as text holding NUL characters
        raise InvalidRequestError(f"a value the store cannot keep: {_one_line(exc)}") from exc
    except psycopg.Error as exc:
        raise StoreError(f"the store failed: {_one_line(exc)}") from exc


@functools.lru_cache(maxsize=256)
def _placeholders(sql: str) -> str:
    """The shared statements' ``?`` placeholders in psycopg's style."""
    return sql.replace("%", "%%").replace("?", "%s")


class _Statements:
    """A connection in a transaction, taking the shared statements."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> psycopg.Cursor[Any]:
        return self._conn.execute(_placeholders(sql), params)


def shared_statements(conn: psycopg.Connection[Any]) -> _Statements:
    """``conn``, in a transaction, taking the statements written once for both SQL stores."""
    return _Statements(conn)


class PostgresDatabase:
    """A pool of connections to the server, and what the stores on PostgreSQL build on: the
    statements written once for both SQL stores (``?`` placeholders: ``_all``, ``_one``,
    ``_tx``), and ``_connection`` for PostgreSQL's own (psycopg's ``%s``). Owns ``pool``:
    ``close`` closes it."""

    skip_claimed = " FOR UPDATE SKIP LOCKED"  # see SQLDatabase

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection (autocommit: each statement its own transaction unless the
        caller opens one), its errors mapped to Wayfare's."""
        with store_errors(), self._pool.connection() as conn:
            yield conn

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[Row]:
        with self._connection() as conn:
            cursor = conn.cursor(row_factory=dict_row)
            return list(cursor.execute(_placeholders(sql), params).fetchall())

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> Row | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    @contextlib.contextmanager
    def _tx(self) -> Iterator[_Statements]:
        with self._connection() as conn, conn.transaction():
            yield _Statements(conn)

    def _settled_seq(self, table: str) -> int | None:
        """Below the least seq a transaction still running has announced (migration 0016):
        asked in a statement of its own, before the page's, which then sees every
        transaction that had ended by then."""
        row = self._one("SELECT settled_seq(?) AS upto", (table,))
        return int(row["upto"]) if row else None

    def close(self) -> None:
        self._pool.close()
