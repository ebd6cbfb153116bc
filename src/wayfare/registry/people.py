"""People: an org's identity namespaces, and the profile of a person found by any of its
identities (the identity graph the journey engine keeps, model/identity_graph.py): its
identities, its merged attributes (registry/profiles.py), its journeys, its recent
experience events (model/person_events.py) and its audiences."""

from __future__ import annotations

from dataclasses import dataclass

from wayfare.clock import Clock
from wayfare.errors import InvalidRequestError, NotFoundError, Violation
from wayfare.model.audiences import Membership
from wayfare.model.identities import Identity, Namespace, check_namespace_code, identity
from wayfare.model.identities import namespaces_of as all_namespaces
from wayfare.model.identity_graph import Dropped, Person
from wayfare.model.instances import Instance
from wayfare.model.person_events import PersonEvent
from wayfare.model.profile_merge import MergedProfile
from wayfare.model.runs import StepRecord
from wayfare.registry.profiles import merged_profile
from wayfare.store.ports import (
    AudienceStore,
    IdentityGraph,
    JourneyReports,
    ProfileStore,
    ResourceStore,
)

JOURNEYS_SHOWN = 50
"""A profile shows the person's newest instances of journeys, at most this many."""
STEPS_SHOWN = 500
"""... and of their step events, the newest this many."""
EVENTS_SHOWN = 100
"""... and of the experience events kept for them, the newest this many."""


@dataclass(frozen=True, slots=True)
class PersonJourney:
    """One instance of a journey of the person, with its step events, oldest first."""

    instance: Instance
    steps: list[StepRecord]


@dataclass(frozen=True, slots=True)
class Profile:
    """What is known of a person."""

    person: Person
    dropped: list[Dropped]
    merged: MergedProfile
    dataset_names: dict[str, str]
    """The id of each dataset an attribute or an event came from -> its name (while it
    exists)."""
    journeys: list[PersonJourney]
    """Newest entered first: live instances at their activity, ended ones with their steps."""
    events: list[PersonEvent]
    """The experience events kept for the person's identities, newest first."""
    memberships: list[Membership]
    """The person's audiences, current and exited, by audience name."""


class ProfileRegistry:
    def __init__(
        self,
        graph: IdentityGraph,
        clock: Clock,
        profiles: ProfileStore,
        journeys: JourneyReports,
        resources: ResourceStore,
        audiences: AudienceStore,
    ) -> None:
        self._graph = graph
        self._clock = clock
        self._profiles = profiles
        self._journeys = journeys
        self._resources = resources
        self._audiences = audiences

    @property
    def store(self) -> ProfileStore:
        """Where fragments and people's experience events are kept (retention forgets the
        old events there)."""
        return self._profiles

    def namespaces(self, org_id: str) -> list[Namespace]:
        """The built-in namespaces, then the org's own, by code."""
        return list(all_namespaces(self._graph.list_namespaces(org_id)).values())

    def create_namespace(self, org_id: str, code: str, name: str, unique: bool) -> Namespace:
        """A namespace of the org's own; ConflictError when it has one of that code."""
        problem = check_namespace_code(code)
        if problem is not None:
            raise InvalidRequestError(problem, violations=(Violation("/code", "pattern", problem),))
        namespace = Namespace(code, name or code, unique, created_ms=self._clock.now_ms())
        self._graph.add_namespace(org_id, namespace)
        return namespace

    def own_namespace(self, org_id: str, code: str) -> Namespace | None:
        return next((n for n in self._graph.list_namespaces(org_id) if n.code == code), None)

    def profile(self, org_id: str, namespace: str, raw_id: str) -> Profile:
        """The person one of whose identities is ``namespace``/``raw_id`` (normalised as
        the namespace's ids are); NotFoundError when no person has it."""
        wanted = identity(namespace, raw_id)
        person = self._graph.person_of(org_id, wanted)
        if person is None:
            raise NotFoundError(f"No profile has the identity {wanted}")
        keys = [Identity(x.identity.namespace, x.identity.id) for x in person.links]
        merged = merged_profile(self._profiles, org_id, keys)
        events = self._profiles.person_events(org_id, keys, EVENTS_SHOWN)
        names: dict[str, str] = {}
        datasets = {source.dataset_id for source in merged.provenance.values()}
        for dataset_id in sorted(datasets | {event.dataset_id for event in events}):
            dataset = self._resources.get_dataset(dataset_id)
            if dataset is not None:
                names[dataset_id] = dataset.name
        return Profile(
            person,
            self._graph.dropped_links(org_id, person.person_id),
            merged,
            names,
            self._person_journeys(org_id, [key.id for key in keys]),
            events,
            self._audiences.memberships_of(org_id, person.person_id),
        )

    def _person_journeys(self, org_id: str, ids: list[str]) -> list[PersonJourney]:
        """Journeys know a person by the id their entry event named (an identity's id)."""
        instances = self._journeys.person_instances(org_id, ids, JOURNEYS_SHOWN)
        steps: dict[str, list[StepRecord]] = {}
        for step in reversed(self._journeys.person_steps(org_id, ids, STEPS_SHOWN)):
            steps.setdefault(step.instance_id, []).append(step)
        return [PersonJourney(i, steps.get(i.instance_id, [])) for i in instances]
