"""The PartitionLeases contract, over every backend: partitions spread over live engines, a
lapsed lease taken over under a new epoch, and commits fenced by the epoch they were made
under."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.contract.conftest import ORG, Backend
from tests.contract.test_journey_store import action, instance
from wayfare.errors import FencedError
from wayfare.model.runs import EngineBatch
from wayfare.store.ports import JourneyStore

TTL = 60_000
SHORT_TTL = 300


@pytest.fixture
def store(backend: Backend) -> JourneyStore:
    return backend.open_journeys()


def eventually(predicate: Callable[[], Any], within: float = 5.0) -> Any:
    deadline = time.monotonic() + within
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)
    return result


def test_a_lone_engine_takes_every_partition_and_keeps_them(store: JourneyStore) -> None:
    first = store.claim("a", 4, TTL).held
    assert first == {0: 1, 1: 1, 2: 1, 3: 1}
    assert store.claim("a", 4, TTL).held == first  # renewing moves no epoch
    assert store.holders() == {p: ("a", 1) for p in range(4)}


def test_partitions_spread_over_the_live_engines_within_a_few_renewals(
    store: JourneyStore,
) -> None:
    alone = store.claim("a", 5, TTL)
    assert (len(alone.held), alone.surplus) == (5, frozenset())
    assert store.claim("b", 5, TTL).held == {}  # all held: nothing to take yet
    seen = store.claim("a", 5, TTL)  # a sees b: what is over its share is surplus
    assert seen.held == alone.held and seen.surplus == {3, 4}  # "a" sorts first: 3 of 5
    assert store.claim("b", 5, TTL).held == {}  # still held: a hands them over first
    store.release("a", seen.surplus)
    a = store.claim("a", 5, TTL).held
    b = store.claim("b", 5, TTL).held
    assert (sorted(a), sorted(b)) == ([0, 1, 2], [3, 4])
    assert all(epoch == 2 for epoch in b.values())  # taken over from a: a new epoch
    settled = store.claim("a", 5, TTL), store.claim("b", 5, TTL)
    assert [c.held for c in settled] == [a, b] and not any(c.surplus for c in settled)
    holders = store.holders()
    assert {p for p, (w, _) in holders.items() if w == "b"} == set(b)


def test_a_lapsed_lease_is_taken_over_under_a_new_epoch(store: JourneyStore) -> None:
    assert store.claim("a", 2, SHORT_TTL).held == {0: 1, 1: 1}
    eventually(lambda: store.holders() == {})  # a stopped renewing
    assert store.claim("b", 2, TTL).held == {0: 2, 1: 2}
    assert store.claim("a", 2, TTL).held == {}  # back, but b holds them now


def test_a_released_partition_is_free_at_once(store: JourneyStore) -> None:
    store.claim("a", 4, TTL)
    store.claim("b", 4, TTL)
    store.release("a", [0, 1])  # handed over: a is still alive, b takes its share
    assert store.claim("b", 4, TTL).held == {0: 2, 1: 2}
    store.release("a", [2, 3], leaving=True)  # a stops: b takes the rest too
    assert store.claim("b", 4, TTL).held == {0: 2, 1: 2, 2: 2, 3: 2}


def test_a_commit_under_a_moved_epoch_is_refused_and_stores_nothing(store: JourneyStore) -> None:
    held = store.claim("a", 2, SHORT_TTL).held
    ours = EngineBatch(
        instances=[instance("i-1", "ada@x.io", partition=0)],
        new_actions=[action("i-1")],
        positions={0: 5},
        owner="a",
        fences={0: held[0]},
    )
    assert [o.key for o in store.commit(ours)] == ["i-1:notify"]
    eventually(lambda: store.holders() == {})
    assert store.claim("b", 2, TTL).held == {0: 2, 1: 2}
    late = EngineBatch(
        instances=[instance("i-2", "bob@x.io", partition=0)],
        new_actions=[action("i-2")],
        positions={0: 9},
        owner="a",
        fences={0: held[0]},
    )
    with pytest.raises(FencedError):
        store.commit(late)
    assert store.instances(["i-2"]) == []
    assert [o.key for o in store.pending_outbox([0], 0, 10)] == ["i-1:notify"]
    assert store.log_positions([0]) == {0: 5}
    # the epoch alone is not enough: the owner must be the one committing
    with pytest.raises(FencedError):
        store.commit(EngineBatch(positions={0: 9}, owner="a", fences={0: 2}))
    store.commit(EngineBatch(positions={0: 9}, owner="b", fences={0: 2}))
    assert store.log_positions([0]) == {0: 9}


def test_unfenced_commits_are_not_checked(store: JourneyStore) -> None:
    store.claim("a", 1, TTL)
    store.commit(EngineBatch(instances=[instance("i-1", "ada@x.io")]))
    assert [i.instance_id for i in store.live_instances(ORG, ["ada@x.io"])] == ["i-1"]
