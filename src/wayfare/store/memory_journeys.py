"""The journey store in memory: catalog, run store and reports over plain dicts and lists.

Like ``memory.py``, it ships in the package so that unit tests drive the real journey engine
without a file, and the contract suite holds it to the same behaviour as SQLite and
PostgreSQL. Accepted messages the engine's commits carry go to a ``MemoryStore``.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import itertools
from collections import Counter
from collections.abc import Collection, Sequence
from typing import Any

import msgspec

from wayfare.clock import Clock, SystemClock
from wayfare.errors import ConflictError, FencedError
from wayfare.model.admission import Stay
from wayfare.model.assignment import Claim, Lease, plan
from wayfare.model.audiences import AudienceEntry
from wayfare.model.identity_graph import GraphChange
from wayfare.model.instances import FINAL, Instance, Place, waiting_moves
from wayfare.model.journey import parse_journey
from wayfare.model.merged_runs import reconcile
from wayfare.model.privacy import ERASED
from wayfare.model.records import FirstMessage
from wayfare.model.runs import (
    DueTimer,
    EngineBatch,
    ForwardedEvent,
    JourneyPeople,
    JourneyState,
    JourneyVersion,
    OutboxItem,
    StepRecord,
    TestEntry,
    people_counts,
)
from wayfare.store.audience_checks import run_audience_checks
from wayfare.store.memory import MemoryStore
from wayfare.store.memory_audiences import MemoryAudienceReads, MemoryAudienceStore
from wayfare.store.memory_identities import MemoryIdentityGraph
from wayfare.store.memory_profiles import MemoryProfileStore

ACTIVE = frozenset({"live", "closed", "draft"})


@dataclasses.dataclass
class _Action:
    item: OutboxItem
    state: str = "pending"
    error: str | None = None


@dataclasses.dataclass
class _Lease:
    owner: str | None
    epoch: int
    expires_ms: int


class MemoryJourneyStore:
    """JourneyStore and PartitionLeases in memory; lease time comes from ``clock``."""

    def __init__(
        self,
        resources: MemoryStore | None = None,
        clock: Clock | None = None,
        identities: MemoryIdentityGraph | None = None,
        profiles: MemoryProfileStore | None = None,
    ) -> None:
        self._resources = resources if resources is not None else MemoryStore()
        self.identities = identities if identities is not None else MemoryIdentityGraph()
        """The identity graph the engine's commits link in."""
        self.profiles = profiles if profiles is not None else MemoryProfileStore()
        """The profile fragments the engine's commits update and its audience checks read."""
        self.audiences = MemoryAudienceStore()
        """Where the engine's audience checks keep events and memberships."""
        self._clock = clock or SystemClock()
        self._leases: dict[int, _Lease] = {}
        self._alive: dict[str, int] = {}
        """worker -> until when it counts as alive (its last claim and time to live)"""
        self._versions: dict[tuple[str, str, int], JourneyVersion] = {}
        self._generation = 0
        self._test_profiles: set[tuple[str, str]] = set()
        self._instances: dict[str, Instance] = {}
        self._timers: dict[int, tuple[int, DueTimer]] = {}
        """id -> (partition, timer)"""
        self._outbox: dict[int, _Action] = {}
        self._positions: dict[int, int] = {}
        self._test_entries: dict[int, TestEntry] = {}
        self._forwards: dict[int, ForwardedEvent] = {}
        self._audience_entries: dict[int, AudienceEntry] = {}
        self._steps: list[StepRecord] = []
        self._step_counts: Counter[tuple[str, str, str, str, str]] = Counter()
        """(org, journey, node, type, status) -> step events ever written, as SQL's
        step_counts: what retention deletes of ``_steps`` stays counted."""
        self._waiting: Counter[Place] = Counter()
        """(org, journey, activity) -> live instances there, as SQL's waiting_counts: kept
        by each write of instances (``_put``)."""
        self._discards: list[tuple[str, str, str]] = []
        """(org, journey, cause)"""
        self._ids = itertools.count(1)

    # catalog
    @property
    def generation(self) -> int:
        return self._generation

    def _changed(self) -> None:
        self._generation += 1

    def add_journey_version(self, version: JourneyVersion) -> None:
        key = (version.org_id, version.name, version.version)
        if key in self._versions:
            raise ConflictError(f"version {version.version} of {version.name} already exists")
        self._versions[key] = version
        self._changed()

    def replace_draft(self, version: JourneyVersion) -> None:
        key = (version.org_id, version.name, version.version)
        known = self._versions.get(key)
        if known is not None and known.state == "draft":
            self._versions[key] = dataclasses.replace(
                known,
                definition=version.definition,
                entry_event=version.entry_event,
                changed_ms=version.changed_ms,
                paused=None,
            )
            self._changed()

    def get_journey(
        self, org_id: str, name: str, version: int | None = None
    ) -> JourneyVersion | None:
        if version is not None:
            return self._versions.get((org_id, name, version))
        found = self.journey_versions(org_id, name)
        return found[-1] if found else None

    def journey_versions(self, org_id: str, name: str) -> list[JourneyVersion]:
        found = [v for (o, n, _), v in self._versions.items() if o == org_id and n == name]
        return sorted(found, key=lambda v: v.version)

    def list_journeys(self, org_id: str) -> list[JourneyVersion]:
        names = sorted({n for (o, n, _) in self._versions if o == org_id})
        return [self.journey_versions(org_id, n)[-1] for n in names]

    def set_journey_state(
        self,
        org_id: str,
        name: str,
        version: int,
        state: JourneyState,
        now_ms: int,
        test_mode: bool | None = None,
    ) -> None:
        key = (org_id, name, version)
        known = self._versions.get(key)
        if known is None:
            return
        self._versions[key] = dataclasses.replace(
            known,
            state=state,
            changed_ms=now_ms,
            test_mode=known.test_mode if test_mode is None else test_mode,
        )
        self._changed()

    def publish_journey(self, org_id: str, name: str, version: int, now_ms: int) -> None:
        for v in self.journey_versions(org_id, name):
            if v.state == "live":
                self.set_journey_state(org_id, name, v.version, "closed", now_ms)
        self.set_journey_state(org_id, name, version, "live", now_ms, test_mode=False)
        self._set_paused(org_id, name, version, None, now_ms)

    def pause_journey(self, org_id: str, name: str, version: int, reason: str, now_ms: int) -> None:
        self._set_paused(org_id, name, version, reason, now_ms)

    def resume_journey(self, org_id: str, name: str, now_ms: int) -> None:
        for v in self.journey_versions(org_id, name):
            if v.paused is not None:
                self._set_paused(org_id, name, v.version, None, now_ms)

    def _set_paused(
        self, org_id: str, name: str, version: int, reason: str | None, now_ms: int
    ) -> None:
        key = (org_id, name, version)
        known = self._versions.get(key)
        if known is not None:
            self._versions[key] = dataclasses.replace(known, paused=reason, changed_ms=now_ms)
            self._changed()

    def stop_journey(self, org_id: str, name: str, now_ms: int) -> None:
        for v in self.journey_versions(org_id, name):
            if v.state in ACTIVE:
                self.set_journey_state(org_id, name, v.version, "stopped", now_ms)

    def entry_journeys(self, org_id: str, event: str) -> list[JourneyVersion]:
        return [
            v
            for (o, _, _), v in sorted(self._versions.items())
            if o == org_id
            and v.entry_event == event
            and v.paused is None
            and (v.state == "live" or (v.state == "draft" and v.test_mode))
        ]

    def active_versions(self, org_id: str) -> list[JourneyVersion]:
        return [
            v
            for (o, _, _), v in sorted(self._versions.items())
            if o == org_id and v.state in ACTIVE
        ]

    def add_test_profile(self, org_id: str, identity: str) -> None:
        self._test_profiles.add((org_id, identity))

    def is_test_profile(self, org_id: str, identity: str) -> bool:
        return (org_id, identity) in self._test_profiles

    # run store
    def instances(self, instance_ids: Sequence[str]) -> list[Instance]:
        return [
            self._instances[i].copy() for i in dict.fromkeys(instance_ids) if i in self._instances
        ]

    def live_instances(self, org_id: str, identities: Sequence[str]) -> list[Instance]:
        wanted = set(identities)
        return [
            i.copy()
            for i in self._instances.values()
            if i.org_id == org_id and i.identity in wanted and i.live
        ]

    def latest_stays(self, org_id: str, identities: Sequence[str]) -> dict[tuple[str, str], Stay]:
        wanted = set(identities)
        latest: dict[tuple[str, str], Stay] = {}
        for i in self._instances.values():
            if i.org_id != org_id or i.identity not in wanted:
                continue
            key = (i.journey, i.identity)
            if key not in latest or i.entered_ms > latest[key].entered_ms:
                latest[key] = Stay(i.entered_ms, i.ended_ms)
        return latest

    def journey_instances(
        self, org_id: str, journey: str, *, live_only: bool, limit: int = 1000
    ) -> list[Instance]:
        found = [
            i.copy()
            for i in self._instances.values()
            if i.org_id == org_id and i.journey == journey and (i.live or not live_only)
        ]
        return sorted(found, key=lambda i: -i.entered_ms)[:limit]

    def live_by_node(self, org_id: str, journey: str) -> dict[str, int]:
        return {
            node: n
            for (org, name, node), n in self._waiting.items()
            if org == org_id and name == journey and n
        }

    def stopped_instances(self, partitions: Collection[int], limit: int) -> list[Instance]:
        found = []
        for i in self._instances.values():
            version = self._versions.get((i.org_id, i.journey, i.version))
            if i.live and i.partition in partitions and version and version.state == "stopped":
                found.append(i.copy())
        return found[:limit]

    def due_timers(self, partitions: Collection[int], now_ms: int, limit: int) -> list[DueTimer]:
        due = [t for p, t in self._timers.values() if p in partitions and t.due_ms <= now_ms]
        return sorted(due, key=lambda t: (t.due_ms, t.timer_id))[:limit]

    def next_timer_ms(self, partitions: Collection[int]) -> int | None:
        return min((t.due_ms for p, t in self._timers.values() if p in partitions), default=None)

    def pending_outbox(
        self, partitions: Collection[int], after_id: int, limit: int
    ) -> list[OutboxItem]:
        pending = [
            a.item
            for oid, a in sorted(self._outbox.items())
            if oid > after_id and a.state == "pending" and a.item.partition in partitions
        ]
        return pending[:limit]

    def log_positions(self, partitions: Collection[int]) -> dict[int, int]:
        return {p: n for p, n in self._positions.items() if p in partitions}

    def known_message_ids(self, org_id: str, msg_ids: Sequence[str]) -> dict[str, FirstMessage]:
        known = self._resources.message_ids
        return {m: known[(org_id, m)] for m in msg_ids if (org_id, m) in known}

    def add_test_entry(self, entry: TestEntry) -> int:
        entry_id = next(self._ids)
        self._test_entries[entry_id] = dataclasses.replace(
            entry, entry_id=entry_id, entity=copy.deepcopy(entry.entity)
        )
        return entry_id

    def test_entries(self, partitions: Collection[int], limit: int) -> list[TestEntry]:
        found = [e for _, e in sorted(self._test_entries.items()) if e.partition in partitions]
        return found[:limit]

    def test_entry_done(self, entry_id: int) -> bool:
        return entry_id not in self._test_entries

    def forwarded_events(self, partitions: Collection[int], limit: int) -> list[ForwardedEvent]:
        found = [f for _, f in sorted(self._forwards.items()) if f.partition in partitions]
        return found[:limit]

    def audience_entries(self, partitions: Collection[int], limit: int) -> list[AudienceEntry]:
        found = [e for _, e in sorted(self._audience_entries.items()) if e.partition in partitions]
        return found[:limit]

    def _queue_audience_entries(self, entries: Sequence[AudienceEntry]) -> None:
        for entry in entries:
            entry_id = next(self._ids)
            self._audience_entries[entry_id] = dataclasses.replace(entry, entry_id=entry_id)

    def commit(self, batch: EngineBatch) -> list[OutboxItem]:
        if batch.empty:
            return []
        for partition, epoch in batch.fences.items():
            lease = self._leases.get(partition)
            if lease is None or lease.owner != batch.owner or lease.epoch != epoch:
                raise FencedError(f"partition {partition} has another owner now")
        self._resources.store_messages(batch.messages)
        changes = [
            (
                arrival.org_id,
                self.identities.link(arrival.org_id, arrival.identities, arrival.decide),
            )
            for arrival in batch.links
        ]
        for update in batch.profile_updates:
            self.profiles.apply_profile_update(update)
        if batch.audience_checks or any(change.merges for _, change in changes):
            reads = MemoryAudienceReads(
                self.identities, self.profiles, self.audiences, self._queue_audience_entries
            )
            run_audience_checks(reads, batch.audience_checks, changes)
        self.profiles.keep_person_events(batch.person_events, batch.person_events_per_identity)
        self._put(batch.instances)
        for org_id, change in changes:
            self._reconcile(org_id, change)
        for timer_id in batch.fired_timers:
            self._timers.pop(timer_id, None)
        ended = set(batch.clear_timers)
        if ended:
            self._timers = {k: v for k, v in self._timers.items() if v[1].instance_id not in ended}
        for t in batch.new_timers:
            timer_id = next(self._ids)
            self._timers[timer_id] = (
                t.partition,
                DueTimer(timer_id, t.instance_id, t.due_ms, t.token, t.kind),
            )
        new = []
        for a in batch.new_actions:
            item = OutboxItem(
                next(self._ids), a.instance_id, a.node, a.token, a.kind, a.request, a.key, 0,
                a.next_ms, a.partition,
            )  # fmt: skip
            self._outbox[item.outbox_id] = _Action(item)
            new.append(item)
        for s in batch.settled:
            action = self._outbox[s.outbox_id]
            action.state = "done" if s.ok else "failed"
            action.error = s.error
            action.item = msgspec.structs.replace(action.item, attempts=s.attempts)
        for r in batch.retries:
            action = self._outbox[r.outbox_id]
            action.error = r.error
            action.item = msgspec.structs.replace(
                action.item, attempts=r.attempts, next_ms=r.next_ms
            )
        self._add_steps(batch.steps)
        self._discards += [(d.org_id, d.journey, d.cause) for d in batch.discards]
        self._positions.update(batch.positions)
        for entry_id in batch.test_entries_done:
            self._test_entries.pop(entry_id, None)
        for forward in batch.forwards:
            forward_id = next(self._ids)
            self._forwards[forward_id] = dataclasses.replace(
                forward, forward_id=forward_id, entity=copy.deepcopy(forward.entity)
            )
        for forward_id in batch.forwards_done:
            self._forwards.pop(forward_id, None)
        for entry_id in batch.audience_entries_done:
            self._audience_entries.pop(entry_id, None)
        return new

    # leases
    def claim(self, worker_id: str, partitions: int, ttl_ms: int) -> Claim:
        now = self._clock.now_ms()
        self._alive[worker_id] = now + ttl_ms
        alive = [w for w, until in self._alive.items() if until > now]
        leases = {
            p: Lease(lease.owner, lease.expires_ms > now) for p, lease in self._leases.items()
        }
        decided = plan(partitions, alive, worker_id, leases)
        for p in decided.keep + decided.release:
            self._leases[p].expires_ms = now + ttl_ms
        for p in decided.take:
            epoch = self._leases[p].epoch + 1 if p in self._leases else 1
            self._leases[p] = _Lease(worker_id, epoch, now + ttl_ms)
        held = sorted(decided.keep + decided.take + decided.release)
        return Claim({p: self._leases[p].epoch for p in held}, frozenset(decided.release))

    def release(
        self, worker_id: str, partitions: Collection[int], *, leaving: bool = False
    ) -> None:
        for p in partitions:
            lease = self._leases.get(p)
            if lease is not None and lease.owner == worker_id:
                lease.owner = None
        if leaving:
            self._alive.pop(worker_id, None)

    def holders(self) -> dict[int, tuple[str, int]]:
        now = self._clock.now_ms()
        return {
            p: (lease.owner, lease.epoch)
            for p, lease in sorted(self._leases.items())
            if lease.owner is not None and lease.expires_ms > now
        }

    # reports
    def report(self, org_id: str, journey: str) -> dict[str, Any]:
        nodes: dict[str, dict[str, Any]] = {}
        for (org, name, node, node_type, status), count in self._step_counts.items():
            if org == org_id and name == journey:
                entry = nodes.setdefault(node, {"type": node_type})
                entry[status] = entry.get(status, 0) + count
        statuses: Counter[str] = Counter(
            str(i.status)
            for i in self._instances.values()
            if i.org_id == org_id and i.journey == journey
        )
        discards = Counter(c for o, j, c in self._discards if o == org_id and j == journey)
        return {
            "journey": journey,
            **people_counts(statuses),
            "discarded": sum(discards.values()),
            "discardsByCause": dict(discards),
            "nodes": nodes,
        }

    def journey_people(self, org_id: str, since_ms: int) -> dict[str, JourneyPeople]:
        statuses: dict[str, Counter[str]] = {}
        since: Counter[str] = Counter()
        for i in self._instances.values():
            if i.org_id == org_id:
                statuses.setdefault(i.journey, Counter())[str(i.status)] += 1
                since[i.journey] += i.entered_ms >= since_ms
        return {name: JourneyPeople(dict(found), since[name]) for name, found in statuses.items()}

    def _put(self, instances: Sequence[Instance], over_final: bool = False) -> None:
        """Keep ``instances`` (an engine's later state of a FINAL end only ``over_final``:
        a privacy delete or merge rewrites ends too) and the counts of people waiting."""
        before = {
            i.instance_id: (found.status, found.node)
            for i in instances
            if (found := self._instances.get(i.instance_id)) is not None
        }
        self._waiting.update(waiting_moves(before, instances))
        for inst in instances:
            if over_final or before.get(inst.instance_id, ("", None))[0] not in FINAL:
                self._instances[inst.instance_id] = inst.copy()

    def _reconcile(self, org_id: str, change: GraphChange) -> None:
        survivor = next((p for p in change.persons if p.person_id == change.person_id), None)
        if not change.merges or survivor is None:
            return
        ids = {x.identity.id for x in survivor.links}
        live = [
            i.copy()
            for i in self._instances.values()
            if i.org_id == org_id and i.identity in ids and i.live
        ]
        ended, steps = reconcile(live, functools.partial(self._node_types, org_id), change.at_ms)
        self._end(ended, steps)

    def _node_types(self, org_id: str, journey: str, version: int) -> dict[str, str]:
        found = self._versions.get((org_id, journey, version))
        if found is None:
            return {}
        return {a.id: a.type for a in parse_journey(found.definition).activities.values()}

    def _end(self, instances: Sequence[Instance], steps: Sequence[StepRecord]) -> None:
        ended = {i.instance_id for i in instances}
        self._put(instances, over_final=True)
        self._timers = {k: v for k, v in self._timers.items() if v[1].instance_id not in ended}
        self._outbox = {k: v for k, v in self._outbox.items() if v.item.instance_id not in ended}
        self._forwards = {k: v for k, v in self._forwards.items() if v.instance_id not in ended}
        self._add_steps(steps)

    def _add_steps(self, steps: Sequence[StepRecord]) -> None:
        seq = self._steps[-1].seq if self._steps else 0
        self._steps += [msgspec.structs.replace(s, seq=seq + n) for n, s in enumerate(steps, 1)]
        self._step_counts.update(
            (s.org_id, s.journey, s.node, s.node_type, s.status) for s in steps
        )

    def instances_of(self, org_id: str, identities: Collection[str]) -> list[Instance]:
        wanted = set(identities)
        found = [
            i.copy()
            for i in self._instances.values()
            if i.org_id == org_id and i.identity in wanted
        ]
        return sorted(found, key=lambda i: i.instance_id)

    def erase_runs(
        self,
        org_id: str,
        identities: Collection[str],
        instances: Sequence[Instance],
        steps: Sequence[StepRecord],
    ) -> int:
        self._end(instances, steps)
        wanted = set(identities)
        for entry_id, entry in list(self._audience_entries.items()):
            if entry.org_id == org_id and entry.identity and entry.identity.id in wanted:
                del self._audience_entries[entry_id]
        mine = [n for n, s in enumerate(self._steps) if s.org_id == org_id and s.identity in wanted]
        for n in mine:
            self._steps[n] = msgspec.structs.replace(self._steps[n], identity=ERASED, detail=None)
        return len(mine)

    def list_steps(
        self, org_id: str, journey: str, limit: int, identity: str | None = None
    ) -> list[StepRecord]:
        found = [
            s
            for s in self._steps
            if s.org_id == org_id
            and s.journey == journey
            and (identity is None or s.identity == identity)
        ]
        return found[::-1][:limit]

    def person_instances(
        self, org_id: str, identities: Sequence[str], limit: int
    ) -> list[Instance]:
        wanted = set(identities)
        found = [
            i.copy()
            for i in self._instances.values()
            if i.org_id == org_id and i.identity in wanted
        ]
        return sorted(found, key=lambda i: (-i.entered_ms, i.instance_id))[:limit]

    def person_steps(self, org_id: str, identities: Sequence[str], limit: int) -> list[StepRecord]:
        wanted = set(identities)
        found = [s for s in self._steps if s.org_id == org_id and s.identity in wanted]
        return found[::-1][:limit]

    def step_event_records(
        self, org_id: str, *, limit: int, after_seq: int | None = None
    ) -> list[StepRecord]:
        found = [s for s in self._steps if s.org_id == org_id]
        if after_seq is None:
            return found[-limit:] if limit > 0 else []
        return [s for s in found if s.seq > after_seq][:limit]

    def delete_step_events_before(self, before_ms: int, limit: int) -> int:
        old = sorted(
            (s for s in self._steps if s.at_ms < before_ms), key=lambda s: (s.at_ms, s.seq)
        )
        old = old[:limit]
        gone = {s.seq for s in old}
        self._steps = [s for s in self._steps if s.seq not in gone]
        return len(gone)

    def count_step_events(self, org_id: str) -> int:
        return sum(1 for s in self._steps if s.org_id == org_id)
