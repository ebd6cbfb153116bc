"""The journey engine's commit evaluating audiences (``EngineBatch.audience_checks``), once
for every store: carry the memberships of persons the commit's links merged away over to
the survivors, then for each check keep the event, find the person, merge their profile,
count their events, let the model decide, keep what it decided, and queue the changes
journeys start on (``queued_entries``) for the engine holding their partition.
``AudienceReads`` is what a store gives it, inside the commit's transaction."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from wayfare.errors import StoreError
from wayfare.model.audiences import (
    AudienceCheck,
    AudienceEntry,
    Membership,
    MembershipChange,
    decide_memberships,
    merged_memberships,
    queued_entries,
)
from wayfare.model.identities import Identity
from wayfare.model.identity_graph import GraphChange, Person
from wayfare.model.profile_fragments import Fragment
from wayfare.model.profile_merge import MergePolicy, merge_fragments


class AudienceReads(Protocol):
    """A store's reads and writes for audience checks, in the commit's transaction."""

    def person_of(self, org_id: str, identity: Identity) -> Person | None: ...
    def hold_person(self, org_id: str, person_id: str) -> None:
        """Make other commits checking or linking the person wait until this one ends (a
        no-op where commits take turns already)."""
        ...

    def fragments(self, org_id: str, identities: Collection[Identity]) -> list[Fragment]: ...
    def merge_policy(self, org_id: str) -> MergePolicy: ...
    def add_identity_event(
        self, org_id: str, identity: Identity, event: str, at_ms: int
    ) -> None: ...
    def count_identity_events(
        self,
        org_id: str,
        identities: Collection[Identity],
        windows: Collection[tuple[str, int]],
        now_ms: int,
    ) -> dict[tuple[str, int], int]: ...
    def memberships_of(self, org_id: str, person_id: str) -> list[Membership]: ...
    def record_membership_changes(
        self, org_id: str, changes: Sequence[MembershipChange]
    ) -> None: ...
    def carry_memberships(
        self, org_id: str, absorbed: str, memberships: Sequence[Membership]
    ) -> None:
        """Keep ``memberships`` (of the surviving person) and forget every membership of
        the person ``absorbed``."""
        ...

    def queue_audience_entries(self, entries: Sequence[AudienceEntry]) -> None: ...


def run_audience_checks(
    store: AudienceReads,
    checks: Sequence[AudienceCheck],
    merged: Sequence[tuple[str, GraphChange]] = (),
) -> None:
    """The memberships of the persons ``merged`` away (the commit's links, by org) carried
    over to their survivors; then each check in order: its event kept, then its person's
    memberships decided and kept, and the changes journeys start on queued (a check whose
    identity no person holds keeps its event only)."""
    for org_id, change in merged:
        for merge in change.merges:
            absorbed = store.memberships_of(org_id, merge.absorbed)
            if absorbed:
                kept = store.memberships_of(org_id, merge.survivor)
                carried = merged_memberships(merge.survivor, kept, absorbed)
                store.carry_memberships(org_id, merge.absorbed, carried)
    for check in checks:
        key = Identity(check.identity.namespace, check.identity.id)
        if check.event is not None:
            store.add_identity_event(check.org_id, key, check.event, check.at_ms)
        if not check.audiences:
            continue
        person = _held_person(store, check)
        if person is None:
            continue
        identities = sorted(person.identities)
        profile = merge_fragments(
            store.fragments(check.org_id, identities), store.merge_policy(check.org_id)
        )
        counts = store.count_identity_events(check.org_id, identities, check.windows(), check.at_ms)
        current = {m.audience: m for m in store.memberships_of(check.org_id, person.person_id)}
        changes = decide_memberships(check, person.person_id, profile.attributes, counts, current)
        store.record_membership_changes(check.org_id, changes)
        if check.starts and changes:
            store.queue_audience_entries(queued_entries(check, person, changes))


MAX_HOLD_ROUNDS = 10
"""Rounds of holding the person and reading it again (a round finds a merge made meanwhile)."""


def _held_person(store: AudienceReads, check: AudienceCheck) -> Person | None:
    """The person holding the check's identity, held: another commit counting or deciding
    for the same person waits, then sees this one's event."""
    person = store.person_of(check.org_id, check.identity)
    for _ in range(MAX_HOLD_ROUNDS):
        if person is None:
            return None
        store.hold_person(check.org_id, person.person_id)
        again = store.person_of(check.org_id, check.identity)
        if again is not None and again.person_id == person.person_id:
            return again
        person = again
    raise StoreError("the person of an identity kept changing while checking its audiences")
