"""What the store keeps queued for the partitions a journey engine holds, taken in its cycles:
events other engines read for instances here (a person merged into one whose instance this
engine holds), test profiles entering drafts in test mode, and people whose audience
membership changed, entering the journeys that start on that change.

Each queue is looked at every TEST_ENTRY_SECONDS, at once after a look that took a full
page or when the engine says so (``soon``: its partitions or the journeys changed, a commit
queued qualifications). What a look takes is marked done in the step's commit, fenced by
the partition's lease, so each is taken once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from wayfare.clock import Clock
from wayfare.engine.step import Step
from wayfare.errors import InfrastructureError
from wayfare.model.audiences import AudienceEntry
from wayfare.model.instances import EventArrived, Instance, Trigger
from wayfare.model.journey import JourneyDefinition
from wayfare.model.runs import JourneyVersion
from wayfare.store.ports import JourneyStore

TEST_ENTRY_SECONDS = 0.2
"""How often an engine looks for queued test entries, for events forwarded to it, and for
audience qualifications other engines' commits queued for its partitions."""


class QueueLook:
    """When an engine next looks at what the store keeps for it (test entries, audience
    qualifications, members to review): every ``seconds``, at once when told."""

    def __init__(self, seconds: float = TEST_ENTRY_SECONDS) -> None:
        self._every_ms = int(seconds * 1000)
        self._next_ms = 0

    def due(self, now_ms: int) -> bool:
        """Whether to look now (the next look is then ``seconds`` away)."""
        if now_ms < self._next_ms:
            return False
        self._next_ms = now_ms + self._every_ms
        return True

    def soon(self) -> None:
        """Look at the next chance."""
        self._next_ms = 0

    def full(self, full: bool) -> bool:
        """After a look that took ``full`` a page: look again at once, and say so."""
        if full:
            self.soon()
        return full


@dataclass(frozen=True, slots=True)
class Acting:
    """The engine's own steps, through which what is queued acts."""

    apply: Callable[[Step, Instance, Trigger], None]
    """Feed an instance a trigger."""
    enter: Callable[[Step, JourneyVersion, str, str, dict[str, Any], int], None]
    """Take a person (an identity) into a version, with the entry's event and entity, and
    the chain of audience changes by journeys that led to it (``Instance.chain``)."""
    discard: Callable[[Step, str, str, str | None, str], None]
    """Count an entry turned away: org, journey, identity, cause."""
    definition: Callable[[str, str, int], JourneyDefinition | None]
    entry_journeys: Callable[[str, str], list[JourneyVersion]]
    """The journeys an (org, event or audience key) enters."""


class StoreQueues:
    """The queues an engine takes from the store, each page in a step."""

    def __init__(self, store: JourneyStore, clock: Clock, acting: Acting) -> None:
        self._store = store
        self._clock = clock
        self._acting = acting
        self._tests = QueueLook()
        self._forwards = QueueLook()
        self.audiences = QueueLook()
        """Told ``soon`` by the engine after a commit that queued qualifications."""

    def soon(self) -> None:
        """Look at every queue at the next chance."""
        self._tests.soon()
        self._forwards.soon()
        self.audiences.soon()

    def take(self, step: Step, partitions: Collection[int]) -> bool:
        """Take a page of each queue that is due into ``step``; True when one was full."""
        busy = self._take_test_entries(step, partitions)
        busy = self._take_forwarded(step, partitions) or busy
        return self._take_audience_entries(step, partitions) or busy

    def _take_test_entries(self, step: Step, partitions: Collection[int], limit: int = 100) -> bool:
        """Test profiles entering drafts in test mode."""
        if not self._tests.due(self._clock.now_ms()):
            return False
        entries = self._store.test_entries(partitions, limit)
        for entry in entries:
            version = self._store.get_journey(entry.org_id, entry.journey, entry.version)
            if (
                version is not None
                and version.state == "draft"
                and version.test_mode
                and version.paused is None
            ):
                entity = entry.entity
                self._acting.enter(step, version, version.entry_event, entry.identity, entity, 0)
            step.batch.test_entries_done.append(entry.entry_id)
        return self._tests.full(len(entries) == limit)

    def _take_forwarded(self, step: Step, partitions: Collection[int], limit: int = 500) -> bool:
        """Events another engine read for instances of these partitions: each wakes its
        instance if it still waits for an event."""
        if not self._forwards.due(self._clock.now_ms()):
            return False
        forwards = self._store.forwarded_events(partitions, limit)
        step.load(f.instance_id for f in forwards)
        for forward in forwards:
            inst = step.instance(forward.instance_id)
            if inst is not None and inst.live and inst.wait_kind == "event":
                self._acting.apply(step, inst, EventArrived(forward.event, forward.entity))
            step.batch.forwards_done.append(forward.forward_id)
        return self._forwards.full(len(forwards) == limit)

    def _take_audience_entries(
        self, step: Step, partitions: Collection[int], limit: int = 100
    ) -> bool:
        """People whose membership changed enter the journeys starting on that change
        (model/audiences.py, ``AudienceEntry``)."""
        if not self.audiences.due(self._clock.now_ms()):
            return False
        entries = self._store.audience_entries(partitions, limit)
        for entry in entries:
            step.batch.audience_entries_done.append(entry.entry_id)
            for version in self._acting.entry_journeys(entry.org_id, entry.key):
                if self._starts_with(version, entry.namespace):
                    self._enter_audience(step, version, entry)
        return self.audiences.full(len(entries) == limit)

    def _starts_with(self, version: JourneyVersion, namespace: str | None) -> bool:
        """Whether the version starts on audience qualification naming ``namespace``."""
        try:
            definition = self._acting.definition(version.org_id, version.name, version.version)
        except InfrastructureError:
            raise
        except Exception:  # no longer parses: its entry is discarded with the cause
            return True
        start = None if definition is None else definition.audience_start
        return start is not None and start.namespace == namespace

    def _enter_audience(self, step: Step, version: JourneyVersion, entry: AudienceEntry) -> None:
        """The person of a queued audience qualification enters ``version``, with the
        identity the entry carries (none: discarded, the person has none in the namespace
        the journey names)."""
        if entry.identity is None:
            cause = f"no {entry.namespace} identity for the person"
            self._acting.discard(step, entry.org_id, version.name, None, cause)
            return
        identity = entry.identity.id
        self._acting.enter(step, version, entry.key, identity, entry.entity(), entry.chain)
