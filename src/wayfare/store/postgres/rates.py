"""Inlets' token buckets in PostgreSQL, shared by every scaled-out HTTP process (migration
0017): one statement a take, the bucket's row locked for it alone."""

from __future__ import annotations

from wayfare.store.postgres.connection import PostgresDatabase


class PostgresRateBuckets(PostgresDatabase):
    def take(self, inlet_id: str, needed: float, wanted: float, rate: float, burst: float) -> float:
        """Tokens granted (``needed`` at least, ``wanted`` at most), or, negative, the seconds
        to wait before ``needed`` could be."""
        row = self._one(
            "SELECT take_inlet_tokens(?, ?, ?, ?, ?) AS granted",
            (inlet_id, needed, wanted, rate, burst),
        )
        assert row is not None
        return float(row["granted"])
