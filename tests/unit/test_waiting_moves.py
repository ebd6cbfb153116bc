"""How writing instances moves the counts of people waiting at each activity
(model/instances.py, ``waiting_moves``): what every store keeps instead of counting its live
instances."""

from __future__ import annotations

from typing import Any

from wayfare.model.instances import Instance, waiting_moves

ORG = "ACME@AdobeOrg"


def at(node: str | None, status: Any = "waiting", instance_id: str = "i-1") -> Instance:
    return Instance(instance_id, ORG, "welcome", 1, "ada@x.io", 7, 0, status=status, node=node)


def test_a_new_live_instance_adds_one_where_it_is_and_an_ended_one_nothing() -> None:
    assert waiting_moves({}, [at("hold")]) == {(ORG, "welcome", "hold"): 1}
    assert waiting_moves({}, [at("done", "finished")]) == {}
    assert waiting_moves({}, [at(None, "running")]) == {}


def test_a_move_takes_one_from_where_it_was_and_an_end_takes_it_away() -> None:
    before = {"i-1": ("waiting", "hold")}
    assert waiting_moves(before, [at("check", "running")]) == {
        (ORG, "welcome", "hold"): -1,
        (ORG, "welcome", "check"): 1,
    }
    assert waiting_moves(before, [at("hold", "running")]) == {}  # the same place
    for end in ("finished", "error", "exited", "deleted", "merged"):
        assert waiting_moves(before, [at("hold", end)]) == {(ORG, "welcome", "hold"): -1}


def test_the_last_state_of_an_instance_given_twice_counts() -> None:
    moves = waiting_moves({}, [at("hold"), at("check"), at("late", instance_id="i-2")])
    assert moves == {(ORG, "welcome", "check"): 1, (ORG, "welcome", "late"): 1}
    assert waiting_moves({}, [at("hold"), at("done", "finished")]) == {}


def test_nothing_moves_an_instance_whose_end_is_final_nor_an_ended_one_again() -> None:
    for final in ("deleted", "merged"):
        assert waiting_moves({"i-1": (final, "hold")}, [at("hold", "running")]) == {}
    assert waiting_moves({"i-1": ("finished", "done")}, [at("done", "finished")]) == {}
