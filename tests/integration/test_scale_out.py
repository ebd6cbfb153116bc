"""Scale-out end to end on one machine: two ``wayfare serve`` and two ``wayfare worker``
processes on a private PostgreSQL and a private NATS, a live journey (a 2-second wait, then
an HTTP action to a real local receiver), and a steady stream of messages for distinct people
while one thing goes wrong: a worker killed with -9, a worker paused for 30 s, NATS
restarted, PostgreSQL restarted.

Once the stream has drained, what a user would check: every acknowledged message stored
once, every instance finished, every wait ended once (its timer fired once), every action
arrived at the receiver under its ``Idempotency-Key``, the store holding each action done.
An action may arrive twice only when the worker that sent it first could not record it: it
was killed or paused with the call in flight, so the partition's next owner sends it again
under the same key. The receiver tells which worker made each call from the connection's
process group.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import wait_until
from tests.integration.journey_support import Receiver, running_receiver
from tests.nats_support import PrivateNats
from tests.postgres import PrivatePostgres
from tests.scale_out import (
    LEASE_SECONDS,
    Cluster,
    delivered_by,
    drained,
    first_from,
    new_tag,
    open_shop,
    people,
    running_cluster,
)

pytestmark = pytest.mark.integration

PAUSE_SECONDS = 30.0
"""How long a worker stays stopped (SIGSTOP), as the issue asks."""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as found:
        yield found


@pytest.fixture
def cluster(
    tmp_path: Path,
    private_postgres: PrivatePostgres,
    private_nats: PrivateNats,
    receiver: Receiver,
) -> Iterator[Cluster]:
    with running_cluster(tmp_path, private_postgres.url, private_nats.url) as found:
        receiver.identify = found.caller
        yield found


@pytest.fixture
def prefix() -> str:
    return f"/{new_tag()}"


def test_a_worker_killed_9_mid_stream_loses_nothing_and_acts_no_more(
    cluster: Cluster, receiver: Receiver, prefix: str
) -> None:
    shop = open_shop(cluster, receiver, prefix)
    victim, survivor = cluster.workers
    stream = cluster.stream(shop, people(new_tag(), 240), rate=24)
    wait_until(lambda: delivered_by(receiver, prefix, victim.name), timeout=30)

    victim.kill()  # the worker alone: its courier sees its stdin close
    cluster.wait_until_held(survivor)  # every partition moved
    moved = time.monotonic()
    wait_until(lambda: not victim.group(), timeout=15)  # the courier it left exits

    # A call the victim had in flight when it died was never recorded: its partition's new
    # owner sends it again, under the same key. Nothing came from the victim afterwards.
    drained(cluster, shop, stream, receiver, prefix, first_from(victim.name, moved))
    assert not [c for c in receiver.under(prefix) if c.sender == victim.name and c.at > moved]


def test_a_worker_paused_30_s_acts_on_nothing_it_lost_and_rejoins(
    cluster: Cluster, receiver: Receiver, prefix: str
) -> None:
    shop = open_shop(cluster, receiver, prefix)
    paused, other = cluster.workers
    stream = cluster.stream(shop, people(new_tag(), 300), rate=8)
    wait_until(lambda: delivered_by(receiver, prefix, paused.name), timeout=30)

    paused.pause()  # the worker and its courier, as a paused host
    stopped = time.monotonic()
    try:
        cluster.wait_until_held(other)  # its partitions moved while it slept
        time.sleep(max(0.0, stopped + PAUSE_SECONDS - time.monotonic()))  # the fault itself
    finally:
        paused.resume()
    resumed = time.monotonic()
    print(f"paused at {stopped:.2f}, resumed at {resumed:.2f}")
    cluster.wait_until_held(paused, other)  # it takes its share again

    # It checks its leases before sending: after it woke, nothing it had held before the
    # pause was sent by it again. Only a call in flight at the pause is sent twice (by the
    # other worker, which took the partition over).
    # When it comes back, the other hands partitions over to it only once their deliveries
    # are recorded: nothing is sent twice by the hand-over.
    drained(cluster, shop, stream, receiver, prefix, first_from(paused.name, resumed))


def test_nats_restarted_mid_stream_loses_and_repeats_nothing(
    cluster: Cluster, private_nats: PrivateNats, receiver: Receiver, prefix: str
) -> None:
    shop = open_shop(cluster, receiver, prefix)
    stream = cluster.stream(shop, people(new_tag(), 240), rate=24)
    stream.wait_for(80)

    refused = stream.statuses[503]
    private_nats.kill()
    wait_until(lambda: stream.statuses[503] > refused, timeout=20)  # 503 + Retry-After
    private_nats.start()

    drained(cluster, shop, stream, receiver, prefix)  # no action sent twice


def test_postgres_restarted_mid_stream_loses_and_repeats_nothing(
    cluster: Cluster, private_postgres: PrivatePostgres, receiver: Receiver, prefix: str
) -> None:
    shop = open_shop(cluster, receiver, prefix)
    stream = cluster.stream(shop, people(new_tag(), 240), rate=24)
    stream.wait_for(80)

    private_postgres.kill()  # every process of it: a crash, recovered from its WAL
    # Down for longer than a lease: no worker can renew its leases meanwhile.
    time.sleep(LEASE_SECONDS * 1.5)
    private_postgres.start()

    drained(cluster, shop, stream, receiver, prefix)  # no action sent twice
