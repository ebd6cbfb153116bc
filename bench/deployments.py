"""Scale-out deployments for the benchmark, on the machine's PostgreSQL and NATS: a database
and a stream of their own per deployment (dropped and deleted on the way out), and what they
tell about a run: the stream's entries, who holds the partitions, the WAL written, the rows
each table took.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import nats
import psycopg

from cpu import listener_pid

LEASES_TIMEOUT_S = 40.0


def _local(url: str, schemes: tuple[str, ...]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in schemes or parts.hostname != "127.0.0.1":
        raise ValueError(f"the benchmark only uses servers on 127.0.0.1, not {url}")


@dataclass(frozen=True)
class Backends:
    postgres: str
    """A URL to create and drop databases through."""
    nats: str
    postmaster: int | None
    nats_pid: int | None
    versions: str


def find_backends(postgres_url: str, nats_url: str) -> Backends:
    """Check that both servers answer; their pids (for CPU) and versions."""
    _local(postgres_url, ("postgresql", "postgres"))
    _local(nats_url, ("nats",))
    try:
        with psycopg.connect(postgres_url, autocommit=True, connect_timeout=5) as conn:
            pg_version = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error as exc:
        raise RuntimeError(
            f"the scaleout scenarios need PostgreSQL at {postgres_url}: {exc}"
        ) from exc

    async def nats_version() -> str:
        client = await nats.connect(nats_url, connect_timeout=5, max_reconnect_attempts=0)
        try:
            await client.jetstream().account_info()
            return str(client.connected_server_version)
        finally:
            await client.close()

    try:
        nats_v = asyncio.run(nats_version())
    except Exception as exc:
        raise RuntimeError(
            f"the scaleout scenarios need NATS with JetStream at {nats_url}: {exc!r}"
        ) from exc
    return Backends(
        postgres=postgres_url,
        nats=nats_url,
        postmaster=listener_pid(urlsplit(postgres_url).port or 5432),
        nats_pid=listener_pid(urlsplit(nats_url).port or 4222),
        versions=f"PostgreSQL {pg_version[0] if pg_version else '?'}, NATS {nats_v}",
    )


@dataclass(frozen=True)
class Deployment:
    database: str
    store: str
    log: str
    prefix: str

    @property
    def args(self) -> list[str]:
        return ["--store", self.store, "--log", self.log]

    @property
    def env(self) -> dict[str, str]:
        return {"WAYFARE_LOG_PREFIX": self.prefix}


@contextlib.contextmanager
def deployment(backends: Backends) -> Iterator[Deployment]:
    """A database and a stream prefix of their own; dropped and deleted on the way out
    (stop the processes using them first: leave this context last)."""
    tag = uuid.uuid4().hex[:10]
    name, prefix = f"wfbench_{tag}", f"wfbench-{tag}"
    with psycopg.connect(backends.postgres, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(backends.postgres)
    store = urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))
    try:
        yield Deployment(name, store, backends.nats, prefix)
    finally:
        with psycopg.connect(backends.postgres, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        with contextlib.suppress(Exception):  # no stream if nothing started
            asyncio.run(_delete_stream(backends.nats, prefix))


async def _delete_stream(url: str, stream: str) -> None:
    client = await nats.connect(url, max_reconnect_attempts=0)
    try:
        await client.jetstream().delete_stream(stream)
    finally:
        await client.close()


def settled_stream_entries(url: str, stream: str, timeout_s: float = 10.0) -> int:
    """The stream's entry count once it stops moving (requests in flight when wrk stopped)."""

    async def settle() -> int:
        client = await nats.connect(url, max_reconnect_attempts=0)
        js = client.jetstream()
        try:
            deadline = time.monotonic() + timeout_s
            last = (await js.stream_info(stream)).state.messages
            while time.monotonic() < deadline:
                await asyncio.sleep(0.3)
                now = (await js.stream_info(stream)).state.messages
                if now == last:
                    break
                last = now
            return int(last)
        finally:
            await client.close()

    return asyncio.run(settle())


def wait_for_leases(where: Deployment, workers: int, partitions: int = 16) -> None:
    """Until ``workers`` engines hold every partition between them, in equal shares."""
    deadline = time.monotonic() + LEASES_TIMEOUT_S
    seen: list[tuple[str, int]] = []
    with psycopg.connect(where.store, autocommit=True) as conn:
        while time.monotonic() < deadline:
            seen = [
                (str(owner), int(n))
                for owner, n in conn.execute(
                    "SELECT owner, count(*) FROM partition_leases WHERE owner IS NOT NULL "
                    "AND expires_at > clock_timestamp() GROUP BY owner"
                )
            ]
            counts = sorted(n for _, n in seen)
            if len(counts) == workers and sum(counts) == partitions and counts[-1] - counts[0] <= 1:
                return
            time.sleep(0.2)
    raise RuntimeError(f"{workers} worker(s) did not share the partitions: leases {seen}")


def analyze(store: str) -> None:
    """Fresh statistics for the planner. A new database's tables are empty when its
    statistics are first taken; until autovacuum takes them again (a minute or more), the
    engines' lookups by ``= ANY(array)`` are planned as if one org's rows were few, and read
    every row of the org on each call (46 ms against 2 ms at 30,000 instances)."""
    with psycopg.connect(store, autocommit=True) as conn:
        conn.execute("ANALYZE")


def wal_position(store: str) -> int:
    """The server's current WAL position, in bytes."""
    with psycopg.connect(store, autocommit=True) as conn:
        found = conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
    return int(found[0]) if found else 0


def row_writes(where: Deployment, settle_s: float = 2.0) -> dict[str, int]:
    """Rows inserted, updated and deleted in the deployment's database since it was made,
    per table and kind (``records+``, ``outbox~``, ``timers-``), once the counts stop
    moving (backends report theirs when they end)."""
    query = (
        "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables ORDER BY relname"
    )
    found: dict[str, int] = {}
    deadline = time.monotonic() + 10 * settle_s
    with psycopg.connect(where.store, autocommit=True) as conn:
        while True:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            now = {}
            for table, ins, upd, dele in conn.execute(query):
                now.update({f"{table}+": ins, f"{table}~": upd, f"{table}-": dele})
            if now == found or time.monotonic() > deadline:
                return {k: int(v) for k, v in now.items() if v}
            found = now
            time.sleep(settle_s)


_ENTRIES = (
    "SELECT COALESCE(SUM(n), 0) FROM step_counts WHERE org_id = {p} AND journey = {p} "
    "AND node = 'entry' AND status = 'ended'"
)


@contextlib.contextmanager
def entry_counter(store: str | Path, org: str, journey: str) -> Iterator[Callable[[], int]]:
    """How many have entered ``journey`` so far, read from its store (a PostgreSQL URL, or
    an embedded server's SQLite file, read-only): the entry step's count, one row, written
    in the same commit as the instance. (The report's ``entered`` counts every instance of
    the journey on each call, which would load the store more the longer a run goes.)"""
    if isinstance(store, Path):
        lite = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)
        try:
            yield lambda: int(lite.execute(_ENTRIES.format(p="?"), (org, journey)).fetchone()[0])
        finally:
            lite.close()
        return
    with psycopg.connect(store, autocommit=True) as conn:

        def count() -> int:
            found = conn.execute(_ENTRIES.format(p="%s"), (org, journey)).fetchone()
            return int(found[0]) if found else 0

        yield count
