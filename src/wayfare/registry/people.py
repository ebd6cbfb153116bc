"""People: an org's identity namespaces, and the profile of a person found by any of its
identities (the identity graph the journey engine keeps, model/identity_graph.py)."""

from __future__ import annotations

from dataclasses import dataclass

from wayfare.clock import Clock
from wayfare.errors import InvalidRequestError, NotFoundError, Violation
from wayfare.model.identities import Namespace, check_namespace_code, identity
from wayfare.model.identities import namespaces_of as all_namespaces
from wayfare.model.identity_graph import Dropped, Person
from wayfare.store.ports import IdentityGraph


@dataclass(frozen=True, slots=True)
class Profile:
    """What is known of a person."""

    person: Person
    dropped: list[Dropped]


class ProfileRegistry:
    def __init__(self, graph: IdentityGraph, clock: Clock) -> None:
        self._graph = graph
        self._clock = clock

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
        return Profile(person, self._graph.dropped_links(org_id, person.person_id))
