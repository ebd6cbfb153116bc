"""Partition leases on a PostgreSQL server that restarts, or that holds the session of an
engine stuck in the middle of a commit: what the other journey engines see of them."""

from __future__ import annotations

import threading
import time

import pytest

from tests.conftest import wait_until
from tests.postgres import PrivatePostgres
from wayfare.errors import StoreError
from wayfare.store.postgres.connection import migrate, open_pool
from wayfare.store.postgres.journeys import PostgresJourneyStore

pytestmark = pytest.mark.integration

TTL_MS = 1_000


def test_leases_held_when_the_server_went_down_stay_with_their_engines_after_it_restarts(
    private_postgres: PrivatePostgres,
) -> None:
    migrate(private_postgres.url)
    store = PostgresJourneyStore(open_pool(private_postgres.url, timeout=1.0))
    try:
        store.claim("a", 4, TTL_MS)
        store.claim("b", 4, TTL_MS)
        store.release("a", store.claim("a", 4, TTL_MS).surplus)  # a hands over its surplus
        a = store.claim("a", 4, TTL_MS).held
        b = store.claim("b", 4, TTL_MS).held
        assert (a, b) == ({0: 1, 1: 1}, {2: 2, 3: 2})
        private_postgres.kill()
        time.sleep(TTL_MS / 1000 * 2)  # down for longer than a lease: nobody could renew
        private_postgres.start()

        def claim(worker: str) -> dict[int, int] | None:
            try:
                return store.claim(worker, 4, TTL_MS).held
            except StoreError:
                return None  # the pool is still reconnecting

        # The first engine back does not take the partitions of the one that could not
        # renew them either: each finds its own as it left them, under the same epochs.
        assert wait_until(lambda: claim("b") == b, timeout=30)
        assert store.claim("a", 4, TTL_MS).held == a
    finally:
        store.close()


def test_an_engine_stuck_inside_a_commit_does_not_stall_the_others(pg_database: str) -> None:
    stuck_pool = open_pool(pg_database, stuck_after_seconds=0.3)
    stuck = PostgresJourneyStore(stuck_pool)
    other = PostgresJourneyStore(open_pool(pg_database))
    try:
        assert stuck.claim("a", 4, 60_000).held == {0: 1, 1: 1, 2: 1, 3: 1}
        # "a" is paused, or cut off, in the middle of a commit: its fences locked FOR SHARE
        conn = stuck_pool.getconn()
        conn.execute("BEGIN")
        conn.execute("SELECT * FROM partition_leases ORDER BY partition FOR SHARE")

        claimed: list[dict[int, int]] = []
        renewing = threading.Thread(
            target=lambda: claimed.append(other.claim("b", 4, 60_000).held), daemon=True
        )
        renewing.start()
        # the server ends the transaction "a" left open: the claim of "b" goes through
        renewing.join(timeout=20)
        assert claimed == [{}]  # the leases of "a" hold: "b" has nothing to take yet
    finally:
        stuck.close()
        other.close()


def test_an_engine_paused_inside_the_copy_of_a_commit_does_not_stall_the_others(
    pg_database: str,
) -> None:
    # A paused process still answers at the TCP level, and a session inside a COPY waiting
    # for rows is not idle: the server keeps it, and its locks, until the process resumes.
    stuck_pool = open_pool(pg_database, stuck_after_seconds=0.3)
    stuck = PostgresJourneyStore(stuck_pool)
    other = PostgresJourneyStore(open_pool(pg_database))
    resume = threading.Event()

    def commit_paused_mid_copy() -> None:
        conn = stuck_pool.getconn()
        try:
            conn.execute("BEGIN")
            conn.execute("SELECT * FROM partition_leases ORDER BY partition FOR SHARE")
            conn.execute("CREATE TEMP TABLE rows_sent (n int)")
            with conn.cursor().copy("COPY rows_sent FROM STDIN") as copy:
                copy.write_row((1,))
                resume.wait(60)  # paused: no more rows, no end of the COPY
        except Exception:  # ended by the other engine: what this test waits for
            pass

    try:
        assert stuck.claim("a", 4, TTL_MS).held == {0: 1, 1: 1, 2: 1, 3: 1}
        paused = threading.Thread(target=commit_paused_mid_copy, daemon=True)
        paused.start()
        time.sleep(TTL_MS / 1000 * 2)  # the leases of "a" lapse while it sleeps

        def taken() -> bool:
            return other.claim("b", 4, TTL_MS).held == {0: 2, 1: 2, 2: 2, 3: 2}

        took: list[bool] = []
        claiming = threading.Thread(
            target=lambda: took.append(wait_until(taken, timeout=20)), daemon=True
        )
        claiming.start()
        claiming.join(timeout=30)  # well before "a" would resume
        assert took == [True]
    finally:
        resume.set()
        stuck.close()
        other.close()
