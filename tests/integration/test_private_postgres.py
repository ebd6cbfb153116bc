"""The private PostgreSQL server tests kill and restart: what was committed before a kill -9
is there after the restart, and while the server is down the store fails at once with
StoreError, then serves again on its own once the server is back."""

from __future__ import annotations

import time

import pytest

from tests.conftest import wait_until
from tests.contract.conftest import ORG, T0
from tests.postgres import PrivatePostgres
from wayfare.errors import StoreError
from wayfare.model.resources import Org
from wayfare.store.postgres.connection import migrate, open_pool
from wayfare.store.postgres.resources import PostgresStore

pytestmark = pytest.mark.integration


def test_committed_data_survives_kill_9_and_the_store_fails_fast_while_the_server_is_down(
    private_postgres: PrivatePostgres,
) -> None:
    migrate(private_postgres.url)
    store = PostgresStore(open_pool(private_postgres.url, timeout=1.0))
    try:
        store.put_org(Org(ORG, "acme", T0))
        private_postgres.kill()

        started = time.monotonic()
        with pytest.raises(StoreError, match=f"127.0.0.1:{private_postgres.port}"):
            open_pool(private_postgres.url)
        with pytest.raises(StoreError):
            store.get_org(ORG)
        assert time.monotonic() - started < 10  # an error, not a hang

        private_postgres.start()

        def org_again() -> Org | None:
            try:
                return store.get_org(ORG)
            except StoreError:
                return None  # the pool is still reconnecting

        assert wait_until(org_again, timeout=30) == Org(ORG, "acme", T0)
    finally:
        store.close()
