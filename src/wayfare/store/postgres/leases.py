"""PartitionLeases on PostgreSQL: engines on any number of hosts share one table of leases,
timed by the server's clock.

Locking. Every transaction that reads or changes leases locks the rows it needs in
partition order, so two of them never wait on each other in a cycle:

- A claim locks every lease row ``FOR UPDATE`` before it reads anything (the rows of
  partitions never held are inserted first), so claims take turns, and each plans from the
  leases and live engines as the previous claim left them.
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
from collections.abc import Collection, Mapping
from typing import Any

import psycopg

from wayfare.errors import FencedError
from wayfare.model.assignment import Lease, plan
from wayfare.store.postgres.connection import PostgresDatabase

RESTART_GRACE = dt.timedelta(seconds=10)
"""How long after the server started every lease counts as held: time for the engines to
connect again (their pools retry with backoff) and renew their own."""


class PostgresLeases(PostgresDatabase):
    def claim(self, worker_id: str, partitions: int, ttl_ms: int) -> dict[int, int]:
        with self._connection() as conn, conn.transaction():
            conn.execute(
                "INSERT INTO partition_leases (partition) "
                "SELECT p FROM generate_series(0, %s - 1) AS p ORDER BY p ON CONFLICT DO NOTHING",
                (partitions,),
            )
            known = {
                partition: (owner, epoch, expires_at)
                for partition, owner, epoch, expires_at in conn.execute(
                    "SELECT partition, owner, epoch, expires_at FROM partition_leases "
                    "ORDER BY partition FOR UPDATE"
                )
            }
            # Read after the locks are held: a claim that waited for them plans at the time
            # it got them.
            row = conn.execute("SELECT clock_timestamp(), pg_postmaster_start_time()").fetchone()
            assert row is not None
            now, started = row
            ttl = dt.timedelta(milliseconds=ttl_ms)
            until = now + ttl
            restarted = started + max(ttl, RESTART_GRACE) > now
            conn.execute(
                "INSERT INTO workers (worker_id, expires_at) VALUES (%s, %s) "
                "ON CONFLICT (worker_id) DO UPDATE SET expires_at = excluded.expires_at",
                (worker_id, until),
            )
            conn.execute("DELETE FROM workers WHERE expires_at <= %s", (now,))
            alive = [w for (w,) in conn.execute("SELECT worker_id FROM workers")]
            leases = {
                p: Lease(owner, restarted or (expires is not None and expires > now))
                for p, (owner, _, expires) in known.items()
            }
            decided = plan(partitions, alive, worker_id, leases)
            if decided.release:
                conn.execute(
                    "UPDATE partition_leases SET owner = NULL WHERE partition = ANY(%s)",
                    (list(decided.release),),
                )
            if decided.keep:
                conn.execute(
                    "UPDATE partition_leases SET expires_at = %s WHERE partition = ANY(%s)",
                    (until, list(decided.keep)),
                )
            held = {p: int(known[p][1]) for p in decided.keep}
            if decided.take:
                taken = conn.execute(
                    "UPDATE partition_leases SET owner = %s, epoch = epoch + 1, expires_at = %s "
                    "WHERE partition = ANY(%s) RETURNING partition, epoch",
                    (worker_id, until, list(decided.take)),
                )
                held.update((p, int(epoch)) for p, epoch in taken)
        return dict(sorted(held.items()))

    def release(self, worker_id: str, partitions: Collection[int]) -> None:
        with self._connection() as conn, conn.transaction():
            conn.execute(
                "UPDATE partition_leases SET owner = NULL WHERE partition IN ("
                "SELECT partition FROM partition_leases WHERE owner = %s AND partition = ANY(%s) "
                "ORDER BY partition FOR UPDATE)",
                (worker_id, sorted(partitions)),
            )
            conn.execute("DELETE FROM workers WHERE worker_id = %s", (worker_id,))

    def holders(self) -> dict[int, tuple[str, int]]:
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT partition, owner, epoch FROM partition_leases "
                "WHERE owner IS NOT NULL AND expires_at > clock_timestamp() ORDER BY partition"
            )
            return {partition: (owner, epoch) for partition, owner, epoch in rows}


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
