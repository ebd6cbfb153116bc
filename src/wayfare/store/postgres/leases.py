"""PartitionLeases on PostgreSQL: engines on any number of hosts share one table of leases,
timed by the server's clock.

Locking. Every transaction that reads or changes leases locks the rows it needs in
partition order, so two of them never wait on each other in a cycle:

- A claim that takes a partition locks every lease row ``FOR UPDATE`` before it reads
  anything (the rows of partitions never held are inserted first), so such claims take
  turns, and each plans from the leases and live engines as the previous claim left them. A
  claim that only renews (most of them) changes nothing but the engine's own rows, where it
  still holds them: it waits for no other engine's commit.
- A commit locks the rows of its fenced partitions ``FOR SHARE`` (``check_fences``) before it
  writes anything, and holds them until it ends. Commits of different engines share them; a
  claim's ``FOR UPDATE`` conflicts with them. So a takeover either waits until the commit has
  ended (and the commit was made under the epoch it checked), or has locked the row first,
  in which case the commit's check waits for the claim to end and then, under READ COMMITTED,
  reads the row as the claim left it: another owner or epoch, ``FencedError``. Both cannot
  succeed with the old epoch. ``FOR SHARE`` conflicts with any change to the row, by a
  claim or by a plain ``UPDATE`` (``FOR KEY SHARE`` would let an ``UPDATE`` of the owner
  through), so the fence does not depend on how a lease is changed.
- ``release`` locks its rows in partition order too, before updating them.

A lease cannot be renewed while the server is down, so none lapses then: until
``RESTART_GRACE`` (or the time to live, if longer) after the server started, every lease
counts as held. Engines that come back after a restart find their own partitions (under the
same epochs, so the outcomes of what they delivered meanwhile still commit) rather than the
first engine back taking them all and sending again what the others had delivered but not
yet recorded.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Mapping
from typing import Any

import psycopg

from wayfare.errors import FencedError, StoreError
from wayfare.model.assignment import Claim, Lease, Plan, plan
from wayfare.store.postgres.connection import PostgresDatabase

log = logging.getLogger(__name__)
RESTART_GRACE = dt.timedelta(seconds=10)
"""How long after the server started every lease counts as held: time for the engines to
connect again (their pools retry with backoff) and renew their own."""


class PostgresLeases(PostgresDatabase):
    def claim(self, worker_id: str, partitions: int, ttl_ms: int) -> Claim:
        with self._connection() as conn, conn.transaction():
            # Mostly a renewal takes nothing: it changes only the engine's own rows, and so
            # waits for nobody's commit but its own.
            renewed = self._renew(conn, worker_id, partitions, ttl_ms)
            if renewed is not None:
                return renewed
        try:
            return self._take_in_time(worker_id, partitions, ttl_ms)
        except StoreError as exc:
            if not isinstance(exc.__cause__, psycopg.errors.LockNotAvailable):
                raise
        self._end_stuck_sessions(ttl_ms)
        return self._take_in_time(worker_id, partitions, ttl_ms)

    def _take_in_time(self, worker_id: str, partitions: int, ttl_ms: int) -> Claim:
        """``_take``, giving up (StoreError from LockNotAvailable) when the lease rows stay
        locked for a quarter of a lease."""
        with self._connection() as conn, conn.transaction():
            conn.execute(f"SET LOCAL lock_timeout = {max(1, ttl_ms // 4)}")
            return self._take(conn, worker_id, partitions, ttl_ms)

    def _end_stuck_sessions(self, ttl_ms: int) -> None:
        """End the sessions whose transaction has held lease rows for longer than a whole
        lease: an engine paused (or cut off) in the middle of a commit, whose leases have
        lapsed meanwhile. Inside a COPY waiting for rows such a session is neither idle nor
        silent at the TCP level while its process is only paused, so the server would keep
        it, and its locks, until the process resumed. Its commit is rolled back: nothing of
        it was acknowledged, and its partitions' next owner does the work again."""
        with self._connection() as conn:
            ended = conn.execute(
                "SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a "
                "WHERE a.pid <> pg_backend_pid() AND a.datname = current_database() "
                "AND a.xact_start < clock_timestamp() - make_interval(secs => %s) "
                "AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid "
                "AND l.relation = 'partition_leases'::regclass)",
                (ttl_ms / 1000,),
            ).fetchall()
        if ended:
            log.warning(
                "ended %d session(s) that held partition leases locked past their lease",
                len(ended),
            )

    def _renew(
        self, conn: psycopg.Connection[Any], worker_id: str, partitions: int, ttl_ms: int
    ) -> Claim | None:
        """Renew what the engine holds, as planned from the leases as they are (unlocked);
        None when the plan takes a partition (``_take`` must, under the locks)."""
        until, decided = _plan(conn, worker_id, partitions, ttl_ms, lock=False)
        if decided.take:
            return None
        _alive(conn, worker_id, until)
        mine = sorted(decided.keep + decided.release)
        held = {
            p: int(epoch)
            for p, epoch in conn.execute(
                "UPDATE partition_leases SET expires_at = %s WHERE partition = ANY(%s) "
                "AND owner = %s RETURNING partition, epoch",
                (until, mine, worker_id),
            )
        }
        return Claim(dict(sorted(held.items())), frozenset(decided.release) & held.keys())

    def _take(
        self, conn: psycopg.Connection[Any], worker_id: str, partitions: int, ttl_ms: int
    ) -> Claim:
        conn.execute(
            "INSERT INTO partition_leases (partition) "
            "SELECT p FROM generate_series(0, %s - 1) AS p ORDER BY p ON CONFLICT DO NOTHING",
            (partitions,),
        )
        until, decided = _plan(conn, worker_id, partitions, ttl_ms, lock=True)
        _alive(conn, worker_id, until)
        mine = list(decided.keep + decided.release)
        held: dict[int, int] = {}
        if mine:
            renewed = conn.execute(
                "UPDATE partition_leases SET expires_at = %s WHERE partition = ANY(%s) "
                "RETURNING partition, epoch",
                (until, mine),
            )
            held.update((p, int(epoch)) for p, epoch in renewed)
        if decided.take:
            taken = conn.execute(
                "UPDATE partition_leases SET owner = %s, epoch = epoch + 1, expires_at = %s "
                "WHERE partition = ANY(%s) RETURNING partition, epoch",
                (worker_id, until, list(decided.take)),
            )
            held.update((p, int(epoch)) for p, epoch in taken)
        return Claim(dict(sorted(held.items())), frozenset(decided.release))

    def release(
        self, worker_id: str, partitions: Collection[int], *, leaving: bool = False
    ) -> None:
        with self._connection() as conn, conn.transaction():
            conn.execute(
                "UPDATE partition_leases SET owner = NULL WHERE partition IN ("
                "SELECT partition FROM partition_leases WHERE owner = %s AND partition = ANY(%s) "
                "ORDER BY partition FOR UPDATE)",
                (worker_id, sorted(partitions)),
            )
            if leaving:
                conn.execute("DELETE FROM workers WHERE worker_id = %s", (worker_id,))

    def holders(self) -> dict[int, tuple[str, int]]:
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT partition, owner, epoch FROM partition_leases "
                "WHERE owner IS NOT NULL AND expires_at > clock_timestamp() ORDER BY partition"
            )
            return {partition: (owner, epoch) for partition, owner, epoch in rows}


def _plan(
    conn: psycopg.Connection[Any], worker_id: str, partitions: int, ttl_ms: int, *, lock: bool
) -> tuple[dt.datetime, Plan]:
    """Plan the worker's claim from the leases and the live engines (changing nothing);
    ``lock``: every lease row locked first, in partition order (a claim that takes)."""
    known = {
        partition: (owner, expires_at)
        for partition, owner, expires_at in conn.execute(
            "SELECT partition, owner, expires_at FROM partition_leases ORDER BY partition"
            + (" FOR UPDATE" if lock else "")
        )
    }
    # Read after the locks are held: a claim that waited for them plans at the time it got
    # them.
    row = conn.execute("SELECT clock_timestamp(), pg_postmaster_start_time()").fetchone()
    assert row is not None
    now, started = row
    ttl = dt.timedelta(milliseconds=ttl_ms)
    until = now + ttl
    restarted = started + max(ttl, RESTART_GRACE) > now
    alive = [
        w for (w,) in conn.execute("SELECT worker_id FROM workers WHERE expires_at > %s", (now,))
    ]
    leases = {
        p: Lease(owner, restarted or (expires is not None and expires > now))
        for p, (owner, expires) in known.items()
    }
    return until, plan(partitions, alive, worker_id, leases)


def _alive(conn: psycopg.Connection[Any], worker_id: str, until: dt.datetime) -> None:
    """The worker counts as alive until ``until``; those past their time go."""
    conn.execute(
        "INSERT INTO workers (worker_id, expires_at) VALUES (%s, %s) "
        "ON CONFLICT (worker_id) DO UPDATE SET expires_at = excluded.expires_at",
        (worker_id, until),
    )
    conn.execute("DELETE FROM workers WHERE expires_at <= clock_timestamp()")


def check_fences(
    conn: psycopg.Connection[Any], owner: str | None, fences: Mapping[int, int]
) -> None:
    """Raise FencedError unless ``owner`` still holds each partition at its epoch; the rows
    stay locked (``FOR SHARE``) until the caller's transaction ends (see the module's
    docstring)."""
    if not fences:
        return
    rows = conn.execute(
        "SELECT partition, owner, epoch FROM partition_leases WHERE partition = ANY(%s) "
        "ORDER BY partition FOR SHARE",
        (sorted(fences),),
    )
    held = {partition: (holder, epoch) for partition, holder, epoch in rows}
    for partition, epoch in sorted(fences.items()):
        if held.get(partition) != (owner, epoch):
            raise FencedError(f"partition {partition} has another owner now")
