"""Two journey engines over one memory store, each holding one partition of the event log:
after two persons waiting in one journey merge, an event naming only the identity merged
away is read by the engine of its partition, which forwards it through the store to the
engine holding the instance that stays; that one wakes it, once."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.contract.conftest import message
from wayfare.clock import FakeClock
from wayfare.engine.actions import ActionSender
from wayfare.engine.ownership import Holding
from wayfare.engine.profiles import EngineProfiles
from wayfare.engine.runtime import JourneyRuntime
from wayfare.ids import SeededEntropy
from wayfare.log.memory import MemoryLog
from wayfare.model.admission import NOT_ALLOWED, TOO_SOON
from wayfare.model.events import EventConfig
from wayfare.model.matching import EventMatch
from wayfare.model.partitions import partition_of
from wayfare.model.runs import JourneyVersion
from wayfare.store.memory import MemoryStore
from wayfare.store.memory_journeys import MemoryJourneyStore

ORG = "ACME@AdobeOrg"
T0 = 1_700_000_000_000
PARTITIONS = 2
HOLD = {
    "name": "hold",
    "entry": {"event": "signup", "next": "hold"},
    "activities": {
        "hold": {
            "type": "waitForEvent",
            "events": [{"event": "purchase", "next": "done"}],
            "timeout": {"after": "1h", "next": "done"},
        },
        "done": {"type": "end"},
    },
}


class Pair:
    """Engines ``a`` and ``b`` over one store and log, holding partitions 0 and 1."""

    def __init__(self, definition: dict[str, Any] = HOLD) -> None:
        self.resources = resources = MemoryStore()
        for name in ("signup", "purchase"):
            config = EventConfig(ORG, name, "s", "Email", "system", "identityMap.Email[0].id", ())
            resources.add_event(config)
        self.store = MemoryJourneyStore(resources)
        self.store.add_journey_version(JourneyVersion(ORG, "hold", 1, "live", "signup", definition,
                                                      False, T0, T0))  # fmt: skip
        self.log = MemoryLog(PARTITIONS)
        self.clock = FakeClock(T0)
        self.sent = 0
        self.engines = [self._engine(seed) for seed in range(PARTITIONS)]

    def _engine(self, seed: int) -> JourneyRuntime:
        profiles = EngineProfiles(self.resources, self.store.profiles, self.store.identities)
        sender = ActionSender(smtp_host="127.0.0.1", smtp_port=1, smtp_from="x@example.com")
        return JourneyRuntime(self.store, self.log, self.clock, sender,
                              entropy=SeededEntropy(seed), identity_graph=self.store.identities,
                              profiles=profiles)  # fmt: skip

    def send(self, event: str | None, *ids: str) -> None:
        self.sent += 1
        body = {"body": {"xdmEntity": {"identityMap": {"Email": [{"id": i} for i in ids]}}}}
        matches = [EventMatch(event, ids[0])] if event else None
        self.log.append(message(f"x{self.sent}", body=body, matches=matches))

    def cycle(self, partition: int) -> None:
        """One cycle of the engine holding ``partition``, on what the log holds after its
        last commit there; a quarter of a second later."""
        position = self.store.log_positions([partition]).get(partition, 0)
        read = asyncio.run(self.log.read(partition, position, 500))
        holding = Holding(frozenset({partition}))
        self.engines[partition].cycle([read] if not read.empty else [], holding)
        self.clock.advance(250)

    def statuses(self) -> dict[str, tuple[str, str | None]]:
        found = self.store.journey_instances(ORG, "hold", live_only=False)
        return {i.identity: (i.status, i.node) for i in found}


def apart() -> tuple[str, str]:
    """An id on partition 0 and one on partition 1."""
    ids = [f"p{n}@x.org" for n in range(20)]
    on: dict[int, str] = {}
    for i in ids:
        on.setdefault(partition_of(ORG, i, PARTITIONS), i)
    return on[0], on[1]


def test_the_event_of_the_identity_merged_away_is_forwarded_and_wakes_once() -> None:
    pair = Pair()
    kept, merged = apart()
    pair.send("signup", kept)
    pair.cycle(0)
    pair.send("signup", merged)
    pair.cycle(1)
    pair.send(None, kept, merged)  # links them: whichever engine reads it merges them
    pair.cycle(0)
    pair.cycle(1)
    assert pair.statuses() == {kept: ("waiting", "hold"), merged: ("merged", "hold")}

    pair.send("purchase", merged)
    pair.cycle(1)

    queued = pair.store.forwarded_events([0, 1], 10)
    assert [(f.partition, f.event) for f in queued] == [(0, "purchase")]
    assert pair.statuses()[kept] == ("waiting", "hold")  # engine b does not hold it
    pair.cycle(0)
    assert pair.statuses()[kept] == ("finished", None)
    assert pair.store.forwarded_events([0, 1], 10) == []
    ended = [s for s in pair.store.list_steps(ORG, "hold", 10) if s.node == "hold"]
    assert [(s.identity, s.status) for s in ended] == [(kept, "ended"), (merged, "merged")]


def test_an_event_no_journey_awaits_forwards_nothing() -> None:
    pair = Pair()
    kept, merged = apart()
    pair.send("signup", kept)
    pair.cycle(0)
    pair.send(None, kept, merged)
    pair.cycle(0)
    pair.cycle(1)
    pair.send("signup", merged)  # an entry, awaited by no activity
    pair.cycle(1)
    assert pair.store.forwarded_events([0, 1], 10) == []
    assert pair.statuses()[kept] == ("waiting", "hold")


def on(partition: int, count: int) -> list[str]:
    """``count`` ids on ``partition``."""
    ids = (f"q{n}@x.org" for n in range(100))
    return [i for i in ids if partition_of(ORG, i, PARTITIONS) == partition][:count]


def test_an_entry_naming_only_the_identity_merged_away_starts_no_second_instance() -> None:
    pair = Pair()
    kept, merged = apart()
    pair.send("visit", kept, merged)  # one person (an event no journey knows, on partition 0)
    pair.cycle(0)
    pair.send("signup", kept)
    pair.cycle(0)
    pair.send("signup", merged)  # read by the other engine, the instance on partition 0
    pair.cycle(1)
    assert pair.statuses() == {kept: ("waiting", "hold")}
    assert pair.store.report(ORG, "hold")["discardsByCause"] == {NOT_ALLOWED: 1}


def test_an_entry_read_in_the_cycle_that_links_the_identities_counts_as_the_persons() -> None:
    pair = Pair()
    kept, merged, stranger = on(0, 3)
    pair.send("signup", kept)
    pair.send("visit", kept, merged)
    pair.send("signup", merged)  # the person, grown by the cycle's links
    pair.send("signup", stranger)  # another person: enters
    pair.cycle(0)
    assert pair.statuses() == {kept: ("waiting", "hold"), stranger: ("waiting", "hold")}
    assert pair.store.report(ORG, "hold")["discardsByCause"] == {NOT_ALLOWED: 1}


def test_a_person_who_left_enters_again_under_another_identity_only_after_the_wait() -> None:
    pair = Pair({**HOLD, "reentrance": {"allowed": True, "waitSeconds": 60}})
    kept, merged = apart()
    pair.send("visit", kept, merged)
    pair.cycle(0)
    pair.send("signup", kept)
    pair.cycle(0)
    pair.send("purchase", kept)
    pair.cycle(0)
    assert pair.statuses() == {kept: ("finished", None)}
    pair.send("signup", merged)
    pair.cycle(1)
    assert pair.store.report(ORG, "hold")["discardsByCause"] == {TOO_SOON: 1}
    pair.clock.advance(60_000)
    pair.send("signup", merged)
    pair.cycle(1)
    assert pair.statuses() == {kept: ("finished", None), merged: ("waiting", "hold")}
