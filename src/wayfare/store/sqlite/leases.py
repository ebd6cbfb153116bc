"""PartitionLeases on SQLite: one write transaction at a time, so a claim and a commit's fence
check never interleave. Time is this machine's clock (one machine shares the file)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Collection, Mapping

from wayfare.errors import FencedError
from wayfare.model.assignment import Claim, Lease, plan
from wayfare.store.sqlite.connection import SQLiteDatabase
from wayfare.store.sqlite.statements import in_chunks


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class SQLiteLeases(SQLiteDatabase):
    def claim(self, worker_id: str, partitions: int, ttl_ms: int) -> Claim:
        now = _now_ms()
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO workers (worker_id, expires_ms) VALUES (?, ?) "
                "ON CONFLICT (worker_id) DO UPDATE SET expires_ms = excluded.expires_ms",
                (worker_id, now + ttl_ms),
            )
            conn.execute("DELETE FROM workers WHERE expires_ms <= ?", (now,))
            alive = [r[0] for r in conn.execute("SELECT worker_id FROM workers")]
            rows = conn.execute("SELECT partition, owner, epoch, expires_ms FROM partition_leases")
            known = {p: (owner, epoch, expires) for p, owner, epoch, expires in rows}
            leases = {p: Lease(o, expires > now) for p, (o, _, expires) in known.items()}
            decided = plan(partitions, alive, worker_id, leases)
            conn.executemany(
                "UPDATE partition_leases SET expires_ms = ? WHERE partition = ?",
                [(now + ttl_ms, p) for p in decided.keep + decided.release],
            )
            conn.executemany(
                "INSERT INTO partition_leases (partition, owner, epoch, expires_ms) "
                "VALUES (?, ?, 1, ?) ON CONFLICT (partition) DO UPDATE SET "
                "owner = excluded.owner, epoch = epoch + 1, expires_ms = excluded.expires_ms",
                [(p, worker_id, now + ttl_ms) for p in decided.take],
            )
            held = sorted(decided.keep + decided.take + decided.release)
            rows = conn.execute(
                "SELECT partition, epoch FROM partition_leases WHERE owner = ?", (worker_id,)
            )
            epochs = dict(rows.fetchall())
        return Claim({p: epochs[p] for p in held}, frozenset(decided.release))

    def release(
        self, worker_id: str, partitions: Collection[int], *, leaving: bool = False
    ) -> None:
        with self._tx() as conn:
            for marks, chunk in in_chunks(sorted(partitions)):
                conn.execute(
                    "UPDATE partition_leases SET owner = NULL "
                    f"WHERE owner = ? AND partition IN ({marks})",
                    (worker_id, *chunk),
                )
            if leaving:
                conn.execute("DELETE FROM workers WHERE worker_id = ?", (worker_id,))

    def holders(self) -> dict[int, tuple[str, int]]:
        rows = self._all(
            "SELECT partition, owner, epoch FROM partition_leases "
            "WHERE owner IS NOT NULL AND expires_ms > ? ORDER BY partition",
            (_now_ms(),),
        )
        return {r["partition"]: (r["owner"], r["epoch"]) for r in rows}


def check_fences(conn: sqlite3.Connection, owner: str | None, fences: Mapping[int, int]) -> None:
    """Raise FencedError unless ``owner`` still holds each partition at its epoch."""
    if not fences:
        return
    held: dict[int, tuple[str | None, int]] = {}
    for marks, chunk in in_chunks(sorted(fences)):
        rows = conn.execute(
            f"SELECT partition, owner, epoch FROM partition_leases WHERE partition IN ({marks})",
            chunk,
        )
        held.update((p, (o, e)) for p, o, e in rows)
    for partition, epoch in fences.items():
        if held.get(partition) != (owner, epoch):
            raise FencedError(f"partition {partition} has another owner now")
