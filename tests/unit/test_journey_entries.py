"""Who enters a journey, as the engine decides it: one live instance per person, re-entrance
off or after its wait period. The engine's cycles run one at a time in this process on the
memory store and event log; time comes from a fake clock, so a wait period passes to the
millisecond without waiting. (The rules themselves: tests/unit/test_admission.py.)"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.contract.conftest import message
from wayfare.clock import FakeClock
from wayfare.engine.actions import ActionSender
from wayfare.engine.runtime import JourneyRuntime
from wayfare.ids import SeededEntropy
from wayfare.log.memory import MemoryLog
from wayfare.log.ports import LogSlice
from wayfare.model.matching import EventMatch
from wayfare.model.records import IncomingMessage
from wayfare.model.runs import JourneyVersion, matched_messages
from wayfare.store.memory import MemoryStore
from wayfare.store.memory_journeys import MemoryJourneyStore

ORG = "ACME@AdobeOrg"
T0 = 1_700_000_000_000
MINUTE = 60_000
ADA = "ada@example.com"

END = {"done": {"type": "end"}}
HOLD = {"hold": {"type": "wait", "duration": "1d", "next": "done"}, **END}


@dataclass
class Engine:
    store: MemoryJourneyStore
    log: MemoryLog
    runtime: JourneyRuntime
    clock: FakeClock
    resources: MemoryStore | None = None
    sent: int = 0

    def publish(self, name: str, activities: dict[str, Any], **extra: Any) -> None:
        definition = {
            "name": name,
            "entry": {"event": "signup", "next": next(iter(activities))},
            "activities": activities,
            **extra,
        }
        now = self.clock.now_ms()
        version = JourneyVersion(ORG, name, 1, "live", "signup", definition, False, now, now)
        self.store.add_journey_version(version)

    def signup(self, identity: str = ADA) -> None:
        """A ``signup`` event of the person, accepted into the log as the inlet would, then
        one cycle of the engine on what it reads."""
        self.sent += 1
        self.log.append(message(f"x{self.sent}", matches=[EventMatch("signup", identity)]))
        position = self.store.log_positions([0]).get(0, 0)
        read = asyncio.run(self.log.read(0, position, 500))
        self.runtime.cycle([read])

    def report(self, name: str) -> tuple[int, dict[str, int]]:
        """(entered, discards by cause)"""
        found = self.store.report(ORG, name)
        return found["entered"], found["discardsByCause"]


@pytest.fixture
def engine() -> Iterator[Engine]:
    resources = MemoryStore()
    store = MemoryJourneyStore(resources)
    log = MemoryLog(1)
    clock = FakeClock(T0)
    # never started: these journeys have no actions to deliver
    sender = ActionSender(smtp_host="127.0.0.1", smtp_port=1, smtp_from="x@example.com")
    runtime = JourneyRuntime(store, log, clock, sender, entropy=SeededEntropy())
    yield Engine(store, log, runtime, clock, resources)


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
        store = MemoryJourneyStore()
        log = MemoryLog(1)
        sender = ActionSender(smtp_host="127.0.0.1", smtp_port=1, smtp_from="x@example.com")
        runtime = JourneyRuntime(store, log, FakeClock(T0), sender, entropy=SeededEntropy(7))
        split = {
            "pick": {
                "type": "split",
                "branches": [{"percent": 50, "next": "a"}, {"percent": 50, "next": "b"}],
            },
            "a": {"type": "end"},
            "b": {"type": "end"},
        }
        e = Engine(store, log, runtime, FakeClock(T0))
        e.publish("ab", split, reentrance={"allowed": True, "waitSeconds": 0})
        for n in range(20):
            e.signup(f"p{n}@example.com")
        return [(s.instance_id, s.node) for s in store.step_event_records(ORG, limit=1000)]

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
