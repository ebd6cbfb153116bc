"""One unit of the engine's work: the batch it will commit, and what it knows meanwhile.

A step reads the people it concerns once for all of them (their live instances, their latest
entry in each journey) and keeps that view current as its instances move, so entries,
re-entrance rules and waiting instances see each other within the step.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from wayfare.engine.actions import Delivery
from wayfare.model.admission import Stay
from wayfare.model.instances import Instance
from wayfare.model.runs import EngineBatch, OutboxItem
from wayfare.store.ports import JourneyStore

Person = tuple[str, str]
"""(org id, identity)"""
VersionKey = tuple[str, str, int]
"""(org id, journey, version)"""


class Step:
    """A batch, the instances the step has read (``recent``: live instances as last
    committed, so most need no read) and touched, and the delivery outcomes it records."""

    def __init__(self, store: JourneyStore, recent: Mapping[str, Instance]) -> None:
        self.store = store
        self._recent = recent
        self.batch = EngineBatch()
        self.touched: dict[str, Instance] = {}
        self.outcomes: list[tuple[OutboxItem, Delivery]] = []
        self.finished: list[int] = []
        self.retries: list[OutboxItem] = []
        self._read: dict[str, Instance] = {}
        self._live: dict[Person, dict[str, Instance]] = {}
        self._latest: dict[tuple[str, str, str], Stay] = {}
        self._strangers: dict[Person, list[Instance]] = {}
        self._jumps: Counter[Person] = Counter()
        self.pauses: dict[VersionKey, str] = {}
        """Versions to pause once the batch is committed, and why."""

    def load(self, instance_ids: Iterable[str]) -> None:
        missing = []
        for i in set(instance_ids):
            if i in self.touched or i in self._read:
                continue
            if i in self._recent:
                self._read[i] = self._recent[i]
            else:
                missing.append(i)
        if missing:
            for inst in self.store.instances(missing):
                self._read[inst.instance_id] = inst

    def freshest(self, inst: Instance) -> Instance:
        """``inst`` as this step knows it best: moved in it, or as last committed."""
        found = self.touched.get(inst.instance_id) or self._recent.get(inst.instance_id)
        return found if found is not None else inst

    def instance(self, instance_id: str) -> Instance | None:
        if instance_id not in self.touched and instance_id not in self._read:
            self.load([instance_id])
        return self.touched.get(instance_id) or self._read.get(instance_id)

    def know(self, org_id: str, identities: Iterable[str]) -> None:
        """Read what the store holds about these people (once per step)."""
        wanted = [i for i in set(identities) if (org_id, i) not in self._live]
        if not wanted:
            return
        for identity in wanted:
            self._live[(org_id, identity)] = {}
        for inst in self.store.live_instances(org_id, wanted):
            self._live[(org_id, inst.identity)][inst.instance_id] = inst
        for (journey, identity), stay in self.store.latest_stays(org_id, wanted).items():
            self._latest[(org_id, journey, identity)] = stay
        for identity in wanted:  # this step's own moves win over what the store holds
            for inst in self._strangers.pop((org_id, identity), ()):
                self.note(inst)

    def note(self, inst: Instance) -> None:
        """An instance has moved in this step."""
        self.touched[inst.instance_id] = inst
        person = (inst.org_id, inst.identity)
        live = self._live.get(person)
        if live is None:
            self._strangers.setdefault(person, []).append(inst)
            return
        if inst.live:
            live[inst.instance_id] = inst
        else:
            live.pop(inst.instance_id, None)
        key = (inst.org_id, inst.journey, inst.identity)
        last = self._latest.get(key)
        if last is None or inst.entered_ms >= last.entered_ms:
            self._latest[key] = Stay(inst.entered_ms, inst.ended_ms)

    def live_of(self, org_id: str, identity: str) -> list[Instance]:
        self.know(org_id, (identity,))
        return list(self._live[(org_id, identity)].values())

    def last_of(self, org_id: str, journey: str, identity: str) -> Stay | None:
        """The person's latest instance of the journey."""
        self.know(org_id, (identity,))
        return self._latest.get((org_id, journey, identity))

    def jump(self, org_id: str, identity: str) -> int:
        """The person goes through a jump: how many they have gone through in this step."""
        self._jumps[(org_id, identity)] += 1
        return self._jumps[(org_id, identity)]
