"""Who enters a journey, as the engine decides it: one live instance per person, re-entrance
off or after its wait period. The engine's cycles run one at a time in this process on the
memory store and event log; time comes from a fake clock, so a wait period passes to the
millisecond without waiting. (The rules themselves: tests/unit/test_admission.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.contract.conftest import message
from tests.unit.journey_engine import ADA, MINUTE, ORG, Engine, make_engine
from wayfare.ids import SeededEntropy
from wayfare.log.ports import LogSlice
from wayfare.model.matching import EventMatch
from wayfare.model.records import IncomingMessage
from wayfare.model.runs import matched_messages

END = {"done": {"type": "end"}}
HOLD = {"hold": {"type": "wait", "duration": "1d", "next": "done"}, **END}


@pytest.fixture
def engine() -> Iterator[Engine]:
    yield make_engine()


def test_reentry_is_discarded_within_the_wait_period_and_allowed_once_it_has_passed(
    engine: Engine,
) -> None:
    engine.publish("again", END, reentrance={"allowed": True, "waitSeconds": 60})
    engine.signup()
    assert engine.report("again") == (1, {})

    engine.clock.advance(MINUTE - 1)
    engine.signup()
    assert engine.report("again") == (1, {"re-entry too soon": 1})

    engine.clock.advance(1)
    engine.signup()
    assert engine.report("again") == (2, {"re-entry too soon": 1})

    # the period counts from when the person last left
    engine.clock.advance(MINUTE - 1)
    engine.signup()
    assert engine.report("again") == (2, {"re-entry too soon": 2})


def test_without_reentrance_a_person_enters_once(engine: Engine) -> None:
    engine.publish("once", END)
    engine.signup()
    engine.clock.advance(30 * 24 * 60 * MINUTE)
    engine.signup()
    engine.signup("grace@example.com")
    assert engine.report("once") == (2, {"re-entry not allowed": 1})


@pytest.mark.parametrize(
    ("reentrance", "cause"),
    [
        pytest.param({"allowed": True, "waitSeconds": 0}, "already in the journey", id="on"),
        pytest.param({"allowed": False}, "re-entry not allowed", id="off"),
    ],
)
def test_a_person_inside_the_journey_is_not_entered_again(
    engine: Engine, reentrance: dict[str, Any], cause: str
) -> None:
    engine.publish("busy", HOLD, reentrance=reentrance)
    engine.signup()
    engine.clock.advance(MINUTE)
    engine.signup()
    assert engine.report("busy") == (1, {cause: 1})
    assert engine.store.report(ORG, "busy")["inJourney"] == 1


def test_the_messages_read_are_stored_with_the_engines_commit(engine: Engine) -> None:
    engine.publish("once", END)
    engine.signup()
    engine.signup("grace@example.com")
    assert engine.store.log_positions([0]) == {0: 2}
    assert engine.resources is not None
    assert [r.xaction_id for r in engine.resources.records] == ["x1", "x2"]


def test_a_seeded_run_replays_exactly() -> None:
    def run() -> list[Any]:
        e = make_engine(entropy=SeededEntropy(7))
        split = {
            "pick": {
                "type": "split",
                "branches": [{"percent": 50, "next": "a"}, {"percent": 50, "next": "b"}],
            },
            "a": {"type": "end"},
            "b": {"type": "end"},
        }
        e.publish("ab", split, reentrance={"allowed": True, "waitSeconds": 0})
        for n in range(20):
            e.signup(f"p{n}@example.com")
        return [(s.instance_id, s.node) for s in e.store.step_event_records(ORG, limit=1000)]

    first, second = run(), run()
    assert first == second
    assert {node for _, node in first} >= {"a", "b"}


def test_a_retried_msg_id_that_got_past_the_log_is_stored_and_acted_on_once(
    engine: Engine,
) -> None:
    engine.publish("once", END, reentrance={"allowed": True, "waitSeconds": 0})
    engine.signup()  # x1, no msgId

    def sent(xaction_id: str, msg_id: str) -> IncomingMessage:
        return message(xaction_id, msg_id=msg_id, matches=[EventMatch("signup", ADA)])

    first, retry, later_retry = sent("x2", "m1"), sent("x3", "m1"), sent("x4", "m1")
    slice_ = LogSlice(
        0, 1, 3, [*matched_messages(first, 2), *matched_messages(retry, 3)], [first, retry]
    )
    engine.runtime.cycle([slice_])
    engine.runtime.cycle([LogSlice(0, 3, 4, matched_messages(later_retry, 4), [later_retry])])
    assert engine.report("once") == (2, {})
    assert engine.resources is not None
    assert [r.xaction_id for r in engine.resources.records] == ["x1", "x2"]
    assert engine.store.log_positions([0]) == {0: 4}
