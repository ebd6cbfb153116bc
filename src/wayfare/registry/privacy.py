"""Privacy delete: a person, found by any of its identities, goes from everywhere Wayfare
keeps it, on either backend; what stays is counts (docs/profiles.md, "Privacy delete").

In this order, so that a delete that fails half-way is finished by running it again (the
identity graph, which finds the person's other identities, goes last):

1. journeys: the person's live instances end with status ``deleted`` (a step event each);
   every instance and step event of the person loses its identity (model/privacy.py), and
   audience qualifications queued for its identities go;
2. profile attributes: every fragment of each of the person's identities, and the
   experience events kept for them; audiences: the person's memberships and the events kept
   for its identities to count;
3. datasets: every record whose ``identityMap`` names one of the identities, and every
   failed record of the org that does. Records have no index by identity: each of the org's
   datasets (and its failed records) is read in pages of ``page`` records, and each page's
   records of the person are deleted in one transaction, so the delete takes time in
   proportion to the records the org keeps, and memory in proportion to a page;
4. the identity graph: the person, its identities and links.

Deleting again finds nothing and changes nothing: every count is 0.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from wayfare.clock import Clock
from wayfare.model.identities import Identity, Namespace, identity, namespaces_of
from wayfare.model.journey import parse_journey
from wayfare.model.privacy import erase_instance, holds_identity
from wayfare.model.records import FailedRecord, Record
from wayfare.registry.profiles import delete_profile_attributes
from wayfare.store.ports import (
    AudienceStore,
    IdentityGraph,
    JourneyStore,
    ProfileStore,
    ResourceStore,
)


@dataclass(frozen=True, slots=True)
class Deletion:
    """What a privacy delete removed."""

    person_id: str | None
    """The person deleted (None: no person had the identity)."""
    identities: int
    instances_ended: int
    instances_erased: int
    step_events_erased: int
    profile_fragments: int
    records: int
    failed_records: int
    experience_events: int
    audience_memberships: int
    counted_events: int


class PrivacyDeletes:
    def __init__(
        self,
        graph: IdentityGraph,
        journeys: JourneyStore,
        profiles: ProfileStore,
        audiences: AudienceStore,
        store: ResourceStore,
        clock: Clock,
        page: int = 500,
    ) -> None:
        self._graph = graph
        self._journeys = journeys
        self._profiles = profiles
        self._audiences = audiences
        self._store = store
        self._clock = clock
        self._page = page

    def delete(self, org_id: str, namespace: str, raw_id: str) -> Deletion:
        """Delete the person one of whose identities is ``namespace``/``raw_id`` (see the
        module's docstring). With no such person, that identity's traces still go."""
        wanted = identity(namespace, raw_id)
        person = self._graph.person_of(org_id, wanted)
        identities = person.identities if person is not None else frozenset({wanted})
        ended, erased, steps = self._erase_runs(org_id, identities)
        keys = sorted(identities)
        fragments = delete_profile_attributes(self._profiles, org_id, keys)
        events = self._profiles.delete_person_events(org_id, keys)
        person_id = person.person_id if person is not None else ""  # "": no one's
        memberships, counted = self._audiences.forget_person(org_id, person_id, keys)
        known = namespaces_of(self._graph.list_namespaces(org_id))
        records = sum(
            self._delete_records(d.dataset_id, identities, known)
            for d in self._store.list_datasets(org_id)
        )
        failed = self._delete_failures(org_id, identities, known)
        linked = 0 if person is None else self._graph.forget_person(org_id, person.person_id)
        return Deletion(
            person.person_id if person is not None else None,
            linked, ended, erased, steps, fragments, records, failed, events, memberships,
            counted,
        )  # fmt: skip

    def _erase_runs(self, org_id: str, identities: Collection[Identity]) -> tuple[int, int, int]:
        """(live instances ended, instances erased, step events erased). Instances are keyed
        by their entry event's identity value: each identity's id."""
        keys = sorted({x.id for x in identities})
        found = self._journeys.instances_of(org_id, keys)
        now = self._clock.now_ms()
        node_types: dict[tuple[str, int], Mapping[str, str]] = {}
        erased, steps = [], []
        for inst in found:
            key = (inst.journey, inst.version)
            if key not in node_types:
                node_types[key] = self._node_types(org_id, *key)
            new, step = erase_instance(inst, node_types[key], now)
            erased.append(new)
            if step is not None:
                steps.append(step)
        erased_steps = self._journeys.erase_runs(org_id, keys, erased, steps)
        return len(steps), len(erased), erased_steps

    def _node_types(self, org_id: str, journey: str, version: int) -> dict[str, str]:
        found = self._journeys.get_journey(org_id, journey, version)
        if found is None:
            return {}
        return {a.id: a.type for a in parse_journey(found.definition).activities.values()}

    def _delete_records(
        self, dataset_id: str, identities: Collection[Identity], known: Mapping[str, Namespace]
    ) -> int:
        def read(after: int | None) -> Sequence[Record]:
            return self._store.list_records(dataset_id, limit=self._page, after_seq=after or 0)

        return self._delete_pages(
            read, lambda seqs: self._store.delete_records(dataset_id, seqs), identities, known
        )

    def _delete_failures(
        self, org_id: str, identities: Collection[Identity], known: Mapping[str, Namespace]
    ) -> int:
        def read(before: int | None) -> Sequence[FailedRecord]:
            return self._store.list_failures(org_id, limit=self._page, before_seq=before)

        return self._delete_pages(
            read, lambda seqs: self._store.delete_failures(org_id, seqs), identities, known
        )

    def _delete_pages(
        self,
        read: Callable[[int | None], Sequence[Record | FailedRecord]],
        delete: Callable[[list[int]], int],
        identities: Collection[Identity],
        known: Mapping[str, Namespace],
    ) -> int:
        """Read pages (each from the last seq of the one before), delete each page's records
        of the person; how many went."""
        deleted, cursor = 0, None
        while True:
            page = read(cursor)
            deleted += delete([r.seq for r in page if holds_identity(r.message, identities, known)])
            if len(page) < self._page:
                return deleted
            cursor = page[-1].seq
