"""A network partition between one worker and PostgreSQL and NATS, end to end: the worker
runs on a host of the test's own (a network namespace, tests/netns.py) whose link to the
services is cut while a steady stream of messages flows, and healed later. Its partitions
move to the other worker; once its leases lapsed it acts on nothing (the receiver, still
reachable from it, tells its calls by their source address); when the link heals it takes
its share again; and the invariants of tests/integration/test_scale_out.py hold afterwards.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import wait_until
from tests.integration.journey_support import Receiver, running_receiver
from tests.nats_support import PrivateNats
from tests.netns import Namespace, isolated_host
from tests.postgres import running_private_postgres
from tests.scale_out import (
    LEASE_SECONDS,
    Cluster,
    delivered_by,
    drained,
    first_from,
    new_tag,
    open_shop,
    people,
)
from wayfare.store.postgres.connection import migrate, open_pool
from wayfare.store.postgres.journeys import PostgresJourneyStore

pytestmark = pytest.mark.integration

ISOLATED = "isolated"
LOCAL = "local"


@pytest.fixture
def host() -> Iterator[Namespace]:
    with isolated_host() as found:
        yield found


@pytest.fixture
def receiver(host: Namespace) -> Iterator[Receiver]:
    def caller(peer: tuple[str, int], local: tuple[str, int]) -> str:
        return ISOLATED if peer[0] == host.isolated_action_address else LOCAL

    with running_receiver(host.action_address, identify=caller) as found:
        yield found


@pytest.fixture
def cluster(
    tmp_path: Path,
    host: Namespace,
    private_postgres_template: tuple[Path, Path],
) -> Iterator[Cluster]:
    """Two servers and a worker here, a worker on the isolated host; PostgreSQL and NATS of
    the test's own on the data link's address."""
    nats = PrivateNats(tmp_path / "nats", host=host.data_address).start()
    try:
        with running_private_postgres(
            private_postgres_template, host.data_address, clients=str(host.subnet)
        ) as pg:
            cluster = Cluster(tmp_path, pg.url, nats.url)
            try:
                cluster.serve()
                cluster.serve()
                cluster.worker(LOCAL)
                cluster.worker(ISOLATED, wrapper=host.wrapper)
                cluster.wait_started()
                yield cluster
            finally:
                cluster.stop()
    finally:
        nats.kill()


def test_a_worker_cut_off_from_postgres_and_nats_stops_acting_and_rejoins_when_healed(
    cluster: Cluster, host: Namespace, receiver: Receiver
) -> None:
    prefix = f"/{new_tag()}"
    shop = open_shop(cluster, receiver, prefix)
    local, isolated = cluster.workers
    stream = cluster.stream(shop, people(new_tag(), 300), rate=15)
    wait_until(lambda: delivered_by(receiver, prefix, ISOLATED), timeout=30)

    host.cut()
    try:
        cluster.wait_until_held(local)  # its partitions moved
        moved = time.monotonic()
        # While the link stays cut, the receiver hears nothing more from it.
        time.sleep(LEASE_SECONDS * 2)  # the partition lasts a while
    finally:
        host.heal()
    healed = time.monotonic()
    late = [c for c in receiver.under(prefix) if c.sender == ISOLATED and moved < c.at < healed]
    assert not late, f"the isolated worker acted after its partitions moved: {late[:5]}"
    cluster.wait_until_held(local, isolated, timeout=60)  # it rejoined

    # Deliveries it made before it stopped, but could not record, are made again by the
    # other worker under the same keys. Once healed, it takes partitions the other hands
    # over only once their deliveries are recorded: nothing is sent twice by the hand-over.
    drained(cluster, shop, stream, receiver, prefix, first_from(ISOLATED, moved))


STUCK_IN_A_COPY = """
import sys, time
from wayfare.store.postgres.connection import open_pool
conn = open_pool(sys.argv[1], stuck_after_seconds=1.0).getconn()
conn.execute("BEGIN")
conn.execute("SELECT * FROM partition_leases ORDER BY partition FOR SHARE")
copying = conn.cursor().copy("COPY timers (partition, instance_id, due_ms, token, kind) FROM STDIN")
copying.__enter__()
print("copying", flush=True)
time.sleep(600)
"""


def test_a_worker_cut_off_inside_a_copy_of_its_commit_does_not_stall_the_others(
    host: Namespace, private_postgres_template: tuple[Path, Path]
) -> None:
    with running_private_postgres(
        private_postgres_template, host.data_address, clients=str(host.subnet)
    ) as pg:
        migrate(pg.url)
        store = PostgresJourneyStore(open_pool(pg.url))
        with subprocess.Popen(
            [*host.wrapper, sys.executable, "-c", STUCK_IN_A_COPY, pg.url],
            stdout=subprocess.PIPE,
            text=True,
        ) as stuck:
            try:
                assert store.claim("a", 4, 60_000).held == {0: 1, 1: 1, 2: 1, 3: 1}
                assert stuck.stdout is not None and stuck.stdout.readline() == "copying\n"
                host.cut()  # its fences locked FOR SHARE, the server waiting for its rows
                claimed: list[dict[int, int]] = []
                renewing = threading.Thread(
                    target=lambda: claimed.append(store.claim("a", 4, 60_000).held), daemon=True
                )
                renewing.start()
                # The server finds the connection dead and ends the session.
                renewing.join(timeout=30)
                assert claimed == [{0: 1, 1: 1, 2: 1, 3: 1}]
            finally:
                stuck.kill()
                host.heal()
                store.close()
