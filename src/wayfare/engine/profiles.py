"""Profiles in the journey engine: which messages read update profile fragments or are
experience events kept for the person, and the merged profile an instance's step reads
through ``#{profile.…}``.

A cycle's commit links the identities of the messages it read and applies their Profile
records (EngineBatch ``links`` and ``profile_updates``). A step of the same cycle sees them
already: the person is the one the identity graph holds for the instance's identity, grown
by the links the cycle has yet to commit, and its fragments are the stored ones with the
cycle's updates applied over them (model/profile_fragments.py's ``apply_update``, the rule
the stores apply). So a journey reads what every message read before its event's cycle
ended said: those before the event, and those after it in the same cycle's read.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from wayfare.model.identities import Identity, identity
from wayfare.model.identity_graph import Arrival
from wayfare.model.person_events import PersonEvent, PersonEventLimits, person_event_of
from wayfare.model.profile_fragments import Fragment
from wayfare.model.profile_merge import MergePolicy, PersonView
from wayfare.model.profile_records import (
    ProfileUpdate,
    Unapplied,
    read_profile_record,
)
from wayfare.model.resources import Dataset
from wayfare.model.runs import ArrivedIdentities
from wayfare.store.ports import IdentityGraph, ProfileStore, ResourceStore

LinkKey = tuple[str, Identity]
"""(org, identity)"""


class EngineProfiles:
    """What the engine reads of profiles. Datasets, schemas and event namespaces are kept
    until the store's resources change (their generation moves); merge policies for a
    cycle (``see_changes`` starts one)."""

    def __init__(
        self,
        resources: ResourceStore,
        profiles: ProfileStore,
        graph: IdentityGraph,
        event_limits: PersonEventLimits | None = None,
    ) -> None:
        self._resources = resources
        self._profiles = profiles
        self._graph = graph
        self.event_limits = event_limits or PersonEventLimits()
        """How much of people's experience events is kept."""
        self._generation = -1
        self._datasets: dict[str, tuple[Dataset, str] | None] = {}
        """dataset id -> the dataset, if enabled for Profile, and its schema's class."""
        self._namespaces: dict[tuple[str, str], str | None] = {}
        self._policies: dict[str, MergePolicy] = {}
        self._indexed: Sequence[Arrival] | None = None
        self._indexed_count = 0
        self._index: dict[LinkKey, list[tuple[Identity, ...]]] = {}
        self._persons: dict[LinkKey, set[Identity]] = {}
        self._fragments: dict[tuple[str, Identity], list[Fragment]] = {}

    def begin_cycle(self) -> None:
        """Forget what the last cycle read of persons, fragments and merge policies: its
        commit may have changed them."""
        self._policies.clear()
        self._persons.clear()
        self._fragments.clear()

    def see_changes(self) -> None:
        """Forget the datasets, schemas and events read if the store's resources moved."""
        generation = self._resources.resource_generation()
        if generation != self._generation:
            self._generation = generation
            self._datasets.clear()
            self._namespaces.clear()

    def update_of(self, found: ArrivedIdentities) -> ProfileUpdate | None:
        """The fragment update a message read makes: a Profile record of a dataset enabled
        for Profile does; anything else makes none."""
        known = self._profile_dataset(found.dataset_id)
        if known is None or known[1] != "Profile":
            return None
        dataset = known[0]
        header = {} if found.operations is None else {"operations": found.operations}
        update = read_profile_record(
            dataset.org_id, dataset.dataset_id, header, found.entity, found.received_ms
        )
        return None if isinstance(update, Unapplied) else update

    def event_of(
        self, found: ArrivedIdentities, identities: Sequence[Identity], events: Collection[str]
    ) -> PersonEvent | None:
        """What is kept for the person of a message read (its ``identities``, as linked;
        ``events``: the names of the org's events it matched): an experience event of a
        dataset enabled for Profile is; anything else is not (model/person_events.py)."""
        if not self.event_limits.keeps_any:
            return None
        known = self._profile_dataset(found.dataset_id)
        if known is None or known[1] != "ExperienceEvent":
            return None
        return person_event_of(
            found.org_id,
            known[0].dataset_id,
            found.xaction_id,
            found.entity,
            identities,
            found.received_ms,
            events,
        )

    def _profile_dataset(self, dataset_id: str | None) -> tuple[Dataset, str] | None:
        """The dataset, if it is enabled for Profile, and its schema's class (read once
        until the resources change)."""
        if dataset_id is None:
            return None
        if dataset_id not in self._datasets:
            self._datasets[dataset_id] = None
            dataset = self._resources.get_dataset(dataset_id)
            if dataset is not None and dataset.profile:
                schema = self._resources.get_schema(dataset.schema_id)
                if schema is not None:
                    self._datasets[dataset_id] = (dataset, schema.definition.xdm_class)
        return self._datasets[dataset_id]

    def event_namespace(self, org_id: str, event: str) -> str | None:
        """The namespace of the identity that names an event's person (None: the event is
        gone)."""
        return self._namespace(org_id, event)

    def view_of(
        self,
        org_id: str,
        namespace: str,
        raw_id: str,
        links: Sequence[Arrival],
        updates: Sequence[ProfileUpdate],
    ) -> PersonView:
        """The profile of the person whose identity in ``namespace`` is ``raw_id`` (as
        journeys name people), with the cycle's ``links`` and ``updates`` not yet
        committed. When no person holds the identity, the view is of the identity alone,
        not ``known``."""
        start = identity(namespace, raw_id)
        person = self._person(org_id, start, links)
        keys = person | {start}
        stored = self._stored_fragments(org_id, keys)
        view = PersonView(
            start,
            tuple(f for key in sorted(keys) for f in stored[key]),
            self._policy(org_id),
            known=bool(person),
        )
        for update in updates:
            if update.org_id == org_id and update.identity in keys:
                view = view.applied(update)
        return view

    def person_ids(
        self, org_id: str, event: str, raw_id: str, links: Sequence[Arrival]
    ) -> set[str]:
        """The ids of every identity of the person whose identity in ``event``'s namespace
        is ``raw_id`` (as journeys key instances: the id alone), with the cycle's ``links``
        not yet committed; empty when no person holds it or the event is gone."""
        namespace = self._namespace(org_id, event)
        if namespace is None:
            return set()
        return {x.id for x in self._person(org_id, identity(namespace, raw_id), links)}

    def prefetch(self, org_id: str, event: str, raw_ids: Collection[str]) -> None:
        """Read the stored fragments of these identities (in ``event``'s namespace) in one
        read, for the cycle's entries to find."""
        namespace = self._namespace(org_id, event)
        if namespace is not None:
            keys = {Identity(namespace, identity(namespace, raw).id) for raw in raw_ids}
            self._stored_fragments(org_id, keys)

    def prefetch_persons(self, org_id: str, event: str, raw_ids: Collection[str]) -> None:
        """Read the persons holding these identities (in ``event``'s namespace) in one read
        of the graph, for the cycle's entries to find (one read each, else)."""
        namespace = self._namespace(org_id, event)
        if namespace is None:
            return
        keys = {identity(namespace, raw) for raw in raw_ids}
        missing = [x for x in keys if (org_id, x) not in self._persons]
        held = self._graph.persons_of(org_id, missing) if missing else {}
        for x in missing:
            person = held.get(x)
            self._persons[org_id, x] = set() if person is None else set(person.identities)

    def _stored_fragments(
        self, org_id: str, keys: Collection[Identity]
    ) -> dict[Identity, list[Fragment]]:
        """The stored fragments of each identity, read at most once a cycle."""
        missing = [k for k in keys if (org_id, k) not in self._fragments]
        if missing:
            for k in missing:
                self._fragments[org_id, k] = []
            for fragment in self._profiles.profile_fragments(org_id, missing):
                self._fragments[org_id, fragment.identity].append(fragment)
        return {k: self._fragments[org_id, k] for k in keys}

    def _namespace(self, org_id: str, event: str) -> str | None:
        key = (org_id, event)
        if key not in self._namespaces:
            config = self._resources.get_event(org_id, event)
            self._namespaces[key] = None if config is None else config.namespace
        return self._namespaces[key]

    def _person(self, org_id: str, start: Identity, links: Sequence[Arrival]) -> set[Identity]:
        """The identities of the person holding ``start``: the graph's, and those the
        cycle's links join to them (empty: nobody holds it)."""
        index = self._index_of(links)
        found = self._stored(org_id, start)
        queued = {start} | found
        queue = list(queued)
        while queue:
            for joined in index.get((org_id, queue.pop()), ()):
                for x in joined:
                    if x in found:
                        continue
                    more = {x} | self._stored(org_id, x)
                    found |= more
                    queue += more - queued
                    queued |= more
        return found

    def _index_of(self, links: Sequence[Arrival]) -> dict[LinkKey, list[tuple[Identity, ...]]]:
        """(org, identity) -> the identities that arrived with it, of the cycle's links;
        kept for the cycle's list, and extended as it grows (a lookup per entry, not a
        pass over the cycle's messages)."""
        if self._indexed is not links:
            self._indexed, self._indexed_count, self._index = links, 0, {}
        for arrival in links[self._indexed_count :]:
            for x in arrival.identities:
                self._index.setdefault((arrival.org_id, x), []).append(arrival.identities)
        self._indexed_count = len(links)
        return self._index

    def _stored(self, org_id: str, x: Identity) -> set[Identity]:
        """The identities of the person the graph holds ``x`` in, read at most once a
        cycle."""
        if (org_id, x) not in self._persons:
            person = self._graph.person_of(org_id, x)
            found = set() if person is None else {link.identity for link in person.links}
            self._persons[org_id, x] = found
        return set(self._persons[org_id, x])

    def _policy(self, org_id: str) -> MergePolicy:
        if org_id not in self._policies:
            self._policies[org_id] = self._profiles.merge_policy(org_id)
        return self._policies[org_id]
