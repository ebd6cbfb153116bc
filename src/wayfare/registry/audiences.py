"""Audiences: creating them (checked against the org's events and Profile schemas, as a
journey is when it is saved), listing them, their members, and one person's memberships."""

from __future__ import annotations

from dataclasses import dataclass

from wayfare.clock import Clock
from wayfare.errors import InvalidRequestError, NotFoundError, Violation
from wayfare.model.audiences import Audience, Membership, parse_audience
from wayfare.model.identity_graph import Person
from wayfare.registry.events import EventRegistry
from wayfare.registry.people import ProfileRegistry
from wayfare.registry.profile_paths import profile_schemas, unknown_profile_path
from wayfare.registry.schemas import SchemaRegistry
from wayfare.store.ports import AudienceStore

MAX_MEMBERS_PAGE = 1_000
"""Members one call lists at most."""


@dataclass(frozen=True, slots=True)
class PersonMemberships:
    """A person, found by one of their identities, and their audiences."""

    person: Person
    memberships: list[Membership]


class AudienceRegistry:
    def __init__(
        self,
        store: AudienceStore,
        people: ProfileRegistry,
        events: EventRegistry,
        schemas: SchemaRegistry,
        clock: Clock,
    ) -> None:
        self._store = store
        self._people = people
        self._events = events
        self._schemas = schemas
        self._clock = clock

    @property
    def store(self) -> AudienceStore:
        """Where audiences are kept (retention forgets their old events there)."""
        return self._store

    def check(self, org_id: str, data: object) -> Audience:
        """The audience ``data`` describes, its condition checked: every counted event is
        one of the org's, every profile path a field of one of its Profile schemas."""
        audience = parse_audience(org_id, data, self._clock.now_ms())
        known = {event.name for event in self._events.all(org_id)}
        problems = [
            Violation(
                "/condition",
                "expression",
                f"count({term.event} in last …) (column {term.column}) counts no event of the "
                f"org: no event is named {term.event!r}",
            )
            for term in audience.condition.event_counts()
            if term.event not in known
        ]
        refs = [ref for ref in audience.condition.refs() if ref.kind == "profile"]
        schemas = profile_schemas(self._schemas, org_id) if refs else []
        for ref in refs:
            if (unknown := unknown_profile_path(ref, schemas)) is not None:
                problems.append(Violation("/condition", "expression", unknown))
        if problems:
            detail = "; ".join(v.message for v in problems)
            raise InvalidRequestError(f"invalid audience: {detail}", violations=tuple(problems))
        return audience

    def create(self, org_id: str, data: object) -> Audience:
        """A new audience; ConflictError when the org has one of that name."""
        audience = self.check(org_id, data)
        self._store.add_audience(audience)
        return audience

    def get(self, org_id: str, name: str) -> Audience:
        audience = self._store.get_audience(org_id, name)
        if audience is None:
            raise NotFoundError(f"Audience {name!r} was not found in org {org_id}")
        return audience

    def all(self, org_id: str) -> list[Audience]:
        return self._store.list_audiences(org_id)

    def members(
        self, org_id: str, name: str, after: str | None = None, limit: int = 100
    ) -> list[Membership]:
        """The audience's current members by person id, the first ``limit`` after the
        person id ``after``."""
        self.get(org_id, name)
        return self._store.members(
            org_id, name, after=after, limit=max(1, min(limit, MAX_MEMBERS_PAGE))
        )

    def memberships(self, org_id: str, namespace: str, raw_id: str) -> PersonMemberships:
        """The audiences of the person one of whose identities is ``namespace``/``raw_id``;
        NotFoundError when no person has it."""
        person = self._people.profile(org_id, namespace, raw_id).person
        return PersonMemberships(person, self._store.memberships_of(org_id, person.person_id))
