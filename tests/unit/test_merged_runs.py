"""The rules for journeys when two persons merge (model/merged_runs.py): per journey, the
oldest live instance stays and the others end ``merged``; an event of any identity of the
merged person wakes the instance that stays."""

from __future__ import annotations

from typing import Any

from wayfare.model.instances import Instance
from wayfare.model.merged_runs import reconcile, woken


def live(instance_id: str, journey: str, entered_ms: int, **changes: Any) -> Instance:
    fields: dict[str, Any] = {
        "org_id": "ACME@AdobeOrg",
        "version": 1,
        "identity": f"{instance_id}@x.org",
        "seed": 7,
        "status": "waiting",
        "node": "pause",
        "wait_kind": "event",
    }
    return Instance(instance_id, journey=journey, entered_ms=entered_ms, **{**fields, **changes})


def types(journey: str, version: int) -> dict[str, str]:
    return {"pause": "wait"} if journey == "welcome" else {}


def test_per_journey_the_oldest_stays_and_the_others_end_merged() -> None:
    a = live("a", "welcome", 10)
    b = live("b", "welcome", 20)
    c = live("c", "welcome", 10)  # as old as a: the smaller id stays
    d = live("d", "other", 30, node=None, status="running")
    ended, steps = reconcile([b, d, c, a], types, 99)
    assert [(i.instance_id, i.status, i.ended_ms, i.wait_kind) for i in ended] == [
        ("b", "merged", 99, None),
        ("c", "merged", 99, None),
    ]
    assert [(s.instance_id, s.node, s.node_type, s.status, s.detail) for s in steps] == [
        ("b", "pause", "wait", "merged", "merged into a"),
        ("c", "pause", "wait", "merged", "merged into a"),
    ]
    assert steps[0].identity == "b@x.org" and steps[0].entered_ms == 20


def test_one_instance_per_journey_or_ended_ones_change_nothing() -> None:
    assert reconcile([live("a", "welcome", 10), live("b", "other", 5)], types, 99) == ([], [])
    done = live("b", "welcome", 20, status="finished", ended_ms=30)
    assert reconcile([live("a", "welcome", 10), done], types, 99) == ([], [])
    early = live("e", "welcome", 1, status="exited", ended_ms=2)
    assert reconcile([early, live("a", "welcome", 10)], types, 99) == ([], [])


def awaits(inst: Instance) -> set[str]:
    """What the activity an instance is at waits for: ``purchase`` at ``hold``."""
    return {"purchase"} if inst.node == "hold" else set()


def ids(found: list[Instance]) -> list[str]:
    return [i.instance_id for i in found]


def test_an_event_of_one_identity_wakes_the_instance_of_another() -> None:
    kept = live("a", "welcome", 10, node="hold", identity="e-ada")
    assert ids(woken("purchase", "ada@x.org", [kept], awaits)) == ["a"]
    assert woken("cart", "ada@x.org", [kept], awaits) == []  # not what it waits for
    at_a_wait = live("b", "other", 10, identity="e-ada", wait_kind="timer")
    assert woken("purchase", "ada@x.org", [at_a_wait], awaits) == []
    ended = live("c", "third", 10, node="hold", identity="e-ada", status="finished")
    assert woken("purchase", "ada@x.org", [ended], awaits) == []


def test_the_identity_own_instance_of_a_journey_is_the_one_woken_there() -> None:
    own = live("a", "welcome", 20, node="pause", identity="ada@x.org", wait_kind="timer")
    other = live("b", "welcome", 10, node="hold", identity="e-ada")
    elsewhere = live("c", "other", 10, node="hold", identity="e-ada")
    assert ids(woken("purchase", "ada@x.org", [own, other, elsewhere], awaits)) == ["c"]


def test_of_two_instances_of_a_journey_only_the_one_that_stays_is_woken() -> None:
    """Before the merge's commit ends one of them: the first entered, as ``reconcile``."""
    first = live("z", "welcome", 10, node="hold", identity="e-ada")
    later = live("b", "welcome", 20, node="hold", identity="a-ada")
    assert ids(woken("purchase", "ada@x.org", [later, first], awaits)) == ["z"]
    waiting_elsewhere = live("y", "welcome", 5, node="pause", identity="e-ada")
    assert woken("purchase", "ada@x.org", [later, waiting_elsewhere], awaits) == []
