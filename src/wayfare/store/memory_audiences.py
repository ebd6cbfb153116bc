"""The in-memory AudienceStore: audiences, memberships and identities' events in dicts and
lists, for unit tests and the contract suite. Use it from one thread."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from wayfare.errors import ConflictError
from wayfare.model.audiences import (
    MAX_COUNT,
    Audience,
    AudienceEntry,
    Membership,
    MembershipChange,
)
from wayfare.model.identities import Identity
from wayfare.model.identity_graph import Person
from wayfare.model.profile_fragments import Fragment
from wayfare.model.profile_merge import MergePolicy
from wayfare.store.memory_identities import MemoryIdentityGraph
from wayfare.store.memory_profiles import MemoryProfileStore


class MemoryAudienceStore:
    """AudienceStore in memory."""

    def __init__(self) -> None:
        self._audiences: dict[tuple[str, str], Audience] = {}
        self._memberships: dict[tuple[str, str, str], Membership] = {}
        self._events: list[tuple[str, Identity, str, int]] = []

    def add_audience(self, audience: Audience) -> None:
        key = (audience.org_id, audience.name)
        if key in self._audiences:
            raise ConflictError(f"an audience named {audience.name!r} already exists")
        self._audiences[key] = audience

    def get_audience(self, org_id: str, name: str) -> Audience | None:
        return self._audiences.get((org_id, name))

    def list_audiences(self, org_id: str) -> list[Audience]:
        return [a for (org, _), a in sorted(self._audiences.items()) if org == org_id]

    def record_membership_changes(self, org_id: str, changes: Sequence[MembershipChange]) -> None:
        for change in changes:
            kept = change.membership
            self._memberships[(org_id, kept.audience, kept.person_id)] = kept

    def membership(self, org_id: str, audience: str, person_id: str) -> Membership | None:
        return self._memberships.get((org_id, audience, person_id))

    def memberships_of(self, org_id: str, person_id: str) -> list[Membership]:
        return [
            kept
            for (org, _, person), kept in sorted(self._memberships.items())
            if org == org_id and person == person_id
        ]

    def carry_memberships(
        self, org_id: str, absorbed: str, memberships: Sequence[Membership]
    ) -> None:
        """Keep ``memberships`` and forget the person ``absorbed``'s (a merge)."""
        for key in [k for k in self._memberships if k[0] == org_id and k[2] == absorbed]:
            del self._memberships[key]
        for kept in memberships:
            self._memberships[(org_id, kept.audience, kept.person_id)] = kept

    def members(
        self, org_id: str, audience: str, *, after: str | None = None, limit: int = 100
    ) -> list[Membership]:
        found = [
            kept
            for (org, name, person), kept in sorted(self._memberships.items())
            if org == org_id and name == audience and kept.member and person > (after or "")
        ]
        return found[:limit]

    def members_after(
        self, after: tuple[str, str, str] | None, limit: int
    ) -> list[tuple[str, Membership]]:
        found = [
            (key[0], kept)
            for key, kept in sorted(self._memberships.items())
            if kept.member and (after is None or key > after)
        ]
        return found[:limit]

    def add_identity_event(self, org_id: str, identity: Identity, event: str, at_ms: int) -> None:
        self._events.append((org_id, identity, event, at_ms))

    def count_identity_events(
        self,
        org_id: str,
        identities: Collection[Identity],
        windows: Collection[tuple[str, int]],
        now_ms: int,
        at_most: int = MAX_COUNT,
    ) -> dict[tuple[str, int], int]:
        wanted = set(identities)
        return {
            (name, window): min(
                at_most,
                sum(
                    1
                    for org, identity, event, at_ms in self._events
                    if org == org_id
                    and identity in wanted
                    and event == name
                    and now_ms - window < at_ms <= now_ms
                ),
            )
            for name, window in windows
        }

    def forget_person(
        self, org_id: str, person_id: str, identities: Collection[Identity]
    ) -> tuple[int, int]:
        mine = [k for k in self._memberships if k[0] == org_id and k[2] == person_id]
        for key in mine:
            del self._memberships[key]
        wanted = set(identities)
        kept = [e for e in self._events if not (e[0] == org_id and e[1] in wanted)]
        events, self._events = len(self._events) - len(kept), kept
        return len(mine), events

    def forget_identity_events_before(self, before_ms: int, limit: int) -> int:
        old = sorted((e for e in self._events if e[3] < before_ms), key=lambda e: e[3])[:limit]
        for event in old:
            self._events.remove(event)
        return len(old)

    def close(self) -> None:
        pass


class MemoryAudienceReads:
    """What audience checks read and write (store/audience_checks.py), over the memory
    stores a MemoryJourneyStore's commit holds."""

    def __init__(
        self,
        graph: MemoryIdentityGraph,
        profiles: MemoryProfileStore,
        kept: MemoryAudienceStore,
        queue: Callable[[Sequence[AudienceEntry]], None],
    ) -> None:
        self._graph = graph
        self._profiles = profiles
        self._kept = kept
        self.add_identity_event = kept.add_identity_event
        self.count_identity_events = kept.count_identity_events
        self.memberships_of = kept.memberships_of
        self.record_membership_changes = kept.record_membership_changes
        self.carry_memberships = kept.carry_memberships
        self.queue_audience_entries = queue
        """Into the journey store's queue of audience qualifications."""

    def person_of(self, org_id: str, identity: Identity) -> Person | None:
        return self._graph.person_of(org_id, identity)

    def hold_person(self, org_id: str, person_id: str) -> None:
        """Memory stores are used from one thread."""

    def fragments(self, org_id: str, identities: Collection[Identity]) -> list[Fragment]:
        return self._profiles.profile_fragments(org_id, identities)

    def merge_policy(self, org_id: str) -> MergePolicy:
        return self._profiles.merge_policy(org_id)
