"""One journey's failures stay its own: a step that raises (a recursion limit, a bad value, a
bug) ends that instance in error with its cause, an entry that fails is a discard with its
cause, jump chains are cut, and the rest of the cycle commits for everyone else. A journey
that keeps failing is paused until resumed.

The engine's cycles run one at a time in this process on the memory store and event log,
time from a fake clock (tests/unit/journey_engine.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.journey_engine import ADA, MINUTE, ORG, T0, Engine, make_engine
from wayfare.engine import core
from wayfare.model.expressions import Expression
from wayfare.model.runs import StepRecord

OTHER_ORG = "OTHER@AdobeOrg"
GRACE = "grace@example.com"
END = {"type": "end"}
WELCOME = {"hi": {"type": "log", "message": "hi", "next": "done"}, "done": END}
AGAIN = {"allowed": True, "waitSeconds": 0}
OVERFLOWING = "1 + 1 > 0"
"""A condition whose evaluation overflows the stack (``overflow``): expressions that deep are
refused at save now, but a RecursionError from anywhere must stay one journey's."""
DEEP = {
    "check": {"type": "condition", "branches": [{"when": OVERFLOWING, "next": "done"}]},
    "done": END,
}
BEYOND_LIMITS = {  # stored before expressions were bounded: it no longer parses
    "check": {
        "type": "condition",
        "branches": [{"when": "1" + " + 1" * 3000 + " > 0", "next": "done"}],
    },
    "done": END,
}
DATED = {  # a wait until a date-time from the person's event
    "pause": {"type": "wait", "until": "@event{signup.when}", "next": "done"},
    "done": END,
}
FAR_FUTURE = 1e20  # milliseconds: no date-time has them
TOMORROW = T0 + 24 * 60 * MINUTE


@pytest.fixture
def engine() -> Iterator[Engine]:
    yield make_engine()


@pytest.fixture(autouse=True)
def overflow(monkeypatch: pytest.MonkeyPatch) -> None:
    evaluate = Expression.evaluate

    def overflowing(self: Expression, data: Any, budget: Any = None) -> Any:
        if self.source == OVERFLOWING:
            raise RecursionError("maximum recursion depth exceeded")
        return evaluate(self, data, budget)

    monkeypatch.setattr(Expression, "evaluate", overflowing)


def hopping(to: str) -> dict[str, Any]:
    """A wait of nothing, then a jump to ``to``."""
    return {
        "pause": {"type": "wait", "duration": "0s", "next": "hop"},
        "hop": {"type": "jump", "journey": to},
    }


def sign_up_everyone(engine: Engine) -> None:
    """Ada and Grace of this org, Zoe of another, sign up (each org has a ``welcome`` journey
    that they go straight through); then one cycle."""
    engine.publish("welcome", WELCOME)
    engine.publish("welcome", WELCOME, org=OTHER_ORG)
    engine.send(ADA)
    engine.send(GRACE)
    engine.send("zoe@example.com", org=OTHER_ORG)
    engine.cycle()


def assert_everyone_went_through_welcome(engine: Engine) -> None:
    assert engine.report("welcome") == (2, {})
    assert engine.report("welcome", OTHER_ORG) == (1, {})
    assert engine.store.log_positions([0]) == {0: 3}


def errors(engine: Engine, journey: str, org: str = ORG) -> dict[str, list[StepRecord]]:
    """identity -> the step events of the journey that say error."""
    found: dict[str, list[StepRecord]] = {}
    for s in engine.store.list_steps(org, journey, 1000):
        if s.status == "error":
            found.setdefault(s.identity, []).append(s)
    return found


def test_two_journeys_jumping_to_each_other_cut_the_chain_and_everyone_else_goes_on(
    engine: Engine,
) -> None:
    engine.publish("ping", hopping("pong"), reentrance=AGAIN)
    engine.publish("pong", hopping("ping"), reentrance=AGAIN, entry="never")
    sign_up_everyone(engine)

    assert_everyone_went_through_welcome(engine)
    ping, pong = engine.store.report(ORG, "ping"), engine.store.report(ORG, "pong")
    # each person: the entry and 10 jumps, the 11th discarded
    assert ping["entered"] + pong["entered"] == 2 * 11
    assert ping["inJourney"] + pong["inJourney"] == 0
    cut = [*ping["discardsByCause"].items(), *pong["discardsByCause"].items()]
    assert cut == [("too many jumps in one cycle", 2)]


def test_a_step_that_hits_the_recursion_limit_ends_only_its_instance_in_error(
    engine: Engine,
) -> None:
    engine.publish("deep", DEEP)
    sign_up_everyone(engine)

    assert_everyone_went_through_welcome(engine)
    deep = engine.store.report(ORG, "deep")
    assert (deep["entered"], deep["inError"], deep["inJourney"]) == (2, 2, 0)
    assert deep["nodes"]["check"] == {"type": "condition", "error": 2}
    failed = errors(engine, "deep")
    assert sorted(failed) == [ADA, GRACE]
    for [failure] in failed.values():
        assert failure.node == "check"
        assert failure.detail is not None and "maximum recursion depth" in failure.detail


def test_a_bad_value_in_one_persons_event_ends_only_their_instance_in_error(
    engine: Engine,
) -> None:
    engine.publish("dated", DATED)
    engine.send(ADA, entity={"when": FAR_FUTURE})
    engine.send(GRACE, entity={"when": TOMORROW})
    engine.cycle()

    by_person = {
        i.identity: i for i in engine.store.journey_instances(ORG, "dated", live_only=False)
    }
    assert by_person[ADA].status == "error"
    assert by_person[GRACE].status == "waiting"
    [failure] = errors(engine, "dated")[ADA]
    assert failure.node == "pause"
    assert failure.detail == "the wait's date expression gave no date-time"
    assert GRACE not in errors(engine, "dated")
    # nothing of the failed step stays behind: Grace's wait is the only timer
    assert [t.instance_id for t in engine.store.due_timers([0], TOMORROW, 10)] == [
        by_person[GRACE].instance_id
    ]


def test_a_bug_in_a_step_ends_the_instance_in_error_with_a_bounded_cause(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(run: Any, activity: Any) -> str | None:
        raise RuntimeError("a bug " + "x" * 100_000)

    monkeypatch.setattr(core._Run, "_log", broken)
    engine.publish("buggy", WELCOME)
    engine.publish("fine", DATED)
    engine.send(ADA, entity={"when": TOMORROW})
    engine.cycle()

    [failure] = errors(engine, "buggy")[ADA]
    assert failure.node == "hi"
    assert failure.detail is not None
    assert failure.detail.startswith("RuntimeError: a bug xxx")
    assert len(failure.detail) <= 500
    assert engine.store.report(ORG, "buggy")["inError"] == 1
    assert engine.store.report(ORG, "fine")["inJourney"] == 1


def test_a_journey_whose_definition_fails_at_run_time_discards_its_entries_with_the_cause(
    engine: Engine,
) -> None:
    engine.publish("broken", {"x": {"type": "teleport"}})
    engine.publish("welcome", WELCOME)
    engine.signup()

    entered, discards = engine.report("broken")
    assert entered == 0
    [(cause, count)] = discards.items()
    assert count == 1
    assert cause.startswith("entry failed: ") and "/activities/x/type" in cause
    assert engine.report("welcome") == (1, {})


def test_a_stored_journey_beyond_the_expression_limits_discards_each_entry_with_its_cause(
    engine: Engine,
) -> None:
    engine.publish("deep", BEYOND_LIMITS)
    sign_up_everyone(engine)

    assert_everyone_went_through_welcome(engine)
    entered, discards = engine.report("deep")
    assert entered == 0
    [(cause, count)] = discards.items()
    assert count == 2
    assert cause.startswith("entry failed: ") and "longer than 10,000 characters" in cause


def test_a_journey_that_keeps_failing_is_paused_and_takes_people_again_once_resumed() -> None:
    engine = make_engine(failure_limit=3)
    engine.publish("deep", DEEP)
    engine.publish("welcome", WELCOME)
    for n in range(3):
        engine.signup(f"p{n}@example.com")
    paused = engine.store.get_journey(ORG, "deep")
    assert paused is not None and paused.state == "live"
    assert paused.paused is not None
    assert paused.paused.startswith("paused by the journey engine: 3 steps failed in a row")
    assert "maximum recursion depth" in paused.paused
    assert engine.store.get_journey(ORG, "welcome").paused is None  # type: ignore[union-attr]

    engine.signup("late@example.com")
    assert engine.report("deep") == (3, {})
    assert engine.report("welcome") == (4, {})

    engine.store.resume_journey(ORG, "deep", engine.clock.now_ms())
    assert engine.store.get_journey(ORG, "deep").paused is None  # type: ignore[union-attr]
    engine.signup("later@example.com")
    assert engine.report("deep") == (4, {})


def test_a_step_that_goes_through_ends_the_run_of_failures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    to_datetime = core.to_datetime

    def far_fails(value: Any) -> Any:  # a bug reading some people's dates
        if value == FAR_FUTURE:
            raise OverflowError("date value out of range")
        return to_datetime(value)

    monkeypatch.setattr(core, "to_datetime", far_fails)
    engine = make_engine(failure_limit=2)
    engine.publish("dated", DATED)
    engine.signup("p1@example.com", entity={"when": FAR_FUTURE})
    engine.signup("p2@example.com", entity={"when": TOMORROW})
    engine.signup("p3@example.com", entity={"when": FAR_FUTURE})
    assert engine.store.get_journey(ORG, "dated").paused is None  # type: ignore[union-attr]
    engine.signup("p4@example.com", entity={"when": FAR_FUTURE})
    assert engine.store.get_journey(ORG, "dated").paused is not None  # type: ignore[union-attr]


def test_steps_that_end_in_error_on_values_they_cannot_use_count_toward_the_pause() -> None:
    engine = make_engine(failure_limit=2)
    engine.publish("dated", DATED)
    engine.signup("p1@example.com", entity={"when": FAR_FUTURE})
    assert engine.store.get_journey(ORG, "dated").paused is None  # type: ignore[union-attr]
    engine.signup("p2@example.com", entity={"when": FAR_FUTURE})
    paused = engine.store.get_journey(ORG, "dated")
    assert paused is not None and paused.paused is not None
    assert "the wait's date expression gave no date-time" in paused.paused
