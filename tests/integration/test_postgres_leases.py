"""Partition leases on a PostgreSQL server that restarts: what the journey engines see of
them."""

from __future__ import annotations

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
        a = store.claim("a", 4, TTL_MS)  # a gives up what is over its share
        b = store.claim("b", 4, TTL_MS)
        assert (a, b) == ({0: 1, 1: 1}, {2: 2, 3: 2})
        private_postgres.kill()
        time.sleep(TTL_MS / 1000 * 2)  # down for longer than a lease: nobody could renew
        private_postgres.start()

        def claim(worker: str) -> dict[int, int] | None:
            try:
                return store.claim(worker, 4, TTL_MS)
            except StoreError:
                return None  # the pool is still reconnecting

        # The first engine back does not take the partitions of the one that could not
        # renew them either: each finds its own as it left them, under the same epochs.
        assert wait_until(lambda: claim("b") == b, timeout=30)
        assert store.claim("a", 4, TTL_MS) == a
    finally:
        store.close()
