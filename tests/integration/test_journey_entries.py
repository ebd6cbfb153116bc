"""Who enters a journey, as the runtime decides it: one live instance per person, re-entrance
off or after its wait period. The runtime's cycles run one at a time in this process, on a real
SQLite store fed by the real group-commit writer; time comes from a fake clock, so a wait
period passes to the millisecond without waiting."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.contract.conftest import message
from wayfare.clock import FakeClock
from wayfare.engine.actions import ActionSender
from wayfare.engine.runtime import JourneyRuntime
from wayfare.model.matching import EventMatch
from wayfare.model.runs import JourneyVersion
from wayfare.store.sqlite import migrate
from wayfare.store.sqlite_journeys import SQLiteJourneyStore
from wayfare.store.sqlite_writer import SQLiteWriter

ORG = "ACME@AdobeOrg"
T0 = 1_700_000_000_000
MINUTE = 60_000
ADA = "ada@example.com"

END = {"done": {"type": "end"}}
HOLD = {"hold": {"type": "wait", "duration": "1d", "next": "done"}, **END}


@dataclass
class Engine:
    path: Path
    store: SQLiteJourneyStore
    runtime: JourneyRuntime
    clock: FakeClock
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
        """A ``signup`` event of the person, matched and committed as the inlet would, then
        one cycle of the engine."""
        self.sent += 1
        matched = dataclasses.replace(
            message(f"x{self.sent}"), matches=[EventMatch("signup", True, identity, None)]
        )

        async def write() -> None:
            writer = SQLiteWriter(self.path, fsync=False)
            await writer.start()
            try:
                await writer.write([matched])
            finally:
                await writer.stop()

        asyncio.run(write())
        self.runtime.cycle()

    def report(self, name: str) -> tuple[int, dict[str, int]]:
        """(entered, discards by cause)"""
        found = self.store.report(ORG, name)
        return found["entered"], found["discardsByCause"]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "wayfare.sqlite3"
    migrate(path)
    store = SQLiteJourneyStore(path, fsync=False)
    clock = FakeClock(T0)
    # never started: these journeys have no actions to deliver
    sender = ActionSender(smtp_host="127.0.0.1", smtp_port=1, smtp_from="x@example.com")
    try:
        yield Engine(path, store, JourneyRuntime(store, clock, sender), clock)
    finally:
        store.close()


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
