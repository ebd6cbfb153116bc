"""Which partitions a journey engine goes on with when it learns what it holds: a lease that
may have lapsed is not a partition lost, nor is one taken back under the next epoch; one
that another engine's take came between is."""

from __future__ import annotations

from wayfare.engine.ownership import Holding

OWNER = "host:1:abc"


def held(fences: dict[int, int], acting: bool = True) -> Holding:
    """Leases at these epochs; ``acting=False``: they may have lapsed (nothing acted on)."""
    return Holding(frozenset(fences) if acting else frozenset(), OWNER, fences)


def test_renewed_leases_lose_nothing() -> None:
    assert held({0: 4, 1: 7}).lost_since(held({0: 4, 1: 7})) == set()


def test_leases_that_may_have_lapsed_are_not_lost_and_come_back_as_they_were() -> None:
    lapsed = held({0: 4, 1: 7}, acting=False)
    assert lapsed.lost_since(held({0: 4, 1: 7})) == set()
    assert held({0: 4, 1: 7}).lost_since(lapsed) == set()


def test_a_lease_taken_back_under_the_next_epoch_had_no_other_holder_meanwhile() -> None:
    assert held({0: 5, 1: 7}).lost_since(held({0: 4, 1: 7})) == set()


def test_a_lease_held_again_after_another_engines_take_is_lost() -> None:
    assert held({0: 6, 1: 7}).lost_since(held({0: 4, 1: 7})) == {0}


def test_a_partition_held_no_more_is_lost() -> None:
    assert held({1: 7}).lost_since(held({0: 4, 1: 7})) == {0}
    assert Holding(frozenset(), OWNER).lost_since(held({0: 4}, acting=False)) == {0}


def test_an_engine_that_holds_every_partition_alone_never_loses_one() -> None:
    sole = Holding(frozenset(range(4)))
    assert sole.lost_since(sole) == set()
