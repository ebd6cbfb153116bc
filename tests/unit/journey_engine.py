"""A journey engine for unit tests: the real runtime over the memory store and event log,
its cycles run one at a time in this process, time from a fake clock."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from tests.contract.conftest import message
from wayfare.clock import FakeClock
from wayfare.engine.actions import ActionSender
from wayfare.engine.runtime import JourneyRuntime
from wayfare.ids import SeededEntropy
from wayfare.log.memory import MemoryLog
from wayfare.model.matching import EventMatch
from wayfare.model.runs import JourneyVersion
from wayfare.store.memory import MemoryStore
from wayfare.store.memory_journeys import MemoryJourneyStore
from wayfare.store.ports import JourneyStore

ORG = "ACME@AdobeOrg"
T0 = 1_700_000_000_000
MINUTE = 60_000
ADA = "ada@example.com"


@dataclass
class Engine:
    store: JourneyStore
    log: MemoryLog
    runtime: JourneyRuntime
    clock: FakeClock
    resources: MemoryStore | None = None
    sent: int = 0

    def publish(
        self,
        name: str,
        activities: dict[str, Any],
        *,
        org: str = ORG,
        entry: str = "signup",
        **extra: Any,
    ) -> None:
        """Version 1 of the journey, live, entered on ``entry`` (straight into the store: a
        definition the API would refuse is taken as it is)."""
        definition = {
            "name": name,
            "entry": {"event": entry, "next": next(iter(activities))},
            "activities": activities,
            **extra,
        }
        now = self.clock.now_ms()
        version = JourneyVersion(org, name, 1, "live", entry, definition, False, now, now)
        self.store.add_journey_version(version)

    def send(self, identity: str = ADA, *, org: str = ORG, entity: Any = None) -> None:
        """A ``signup`` event of the person (its ``xdmEntity``: ``entity``), accepted into the
        log as the inlet would; no cycle runs."""
        self.sent += 1
        body = {"body": {"xdmEntity": entity}} if entity is not None else None
        self.log.append(
            message(
                f"x{self.sent}",
                org_id=org,
                body=body,
                matches=[EventMatch("signup", identity)],
            )
        )

    def cycle(self) -> None:
        """One cycle of the engine on what the log holds after its last commit."""
        position = self.store.log_positions([0]).get(0, 0)
        read = asyncio.run(self.log.read(0, position, 500))
        self.runtime.cycle([read] if not read.empty else [])

    def signup(self, identity: str = ADA, *, org: str = ORG, entity: Any = None) -> None:
        """A ``signup`` event of the person, then one cycle of the engine."""
        self.send(identity, org=org, entity=entity)
        self.cycle()

    def report(self, name: str, org: str = ORG) -> tuple[int, dict[str, int]]:
        """(entered, discards by cause)"""
        found = self.store.report(org, name)
        return found["entered"], found["discardsByCause"]


def make_engine(store: JourneyStore | None = None, **options: Any) -> Engine:
    """An engine over ``store`` (a memory store by default); ``options`` go to the
    runtime."""
    resources = MemoryStore() if store is None else None
    if store is None:
        store = MemoryJourneyStore(resources)
    log = MemoryLog(1)
    clock = FakeClock(T0)
    # never started: these journeys have no actions to deliver
    sender = ActionSender(smtp_host="127.0.0.1", smtp_port=1, smtp_from="x@example.com")
    options.setdefault("entropy", SeededEntropy())
    runtime = JourneyRuntime(store, log, clock, sender, **options)
    return Engine(store, log, runtime, clock, resources)
