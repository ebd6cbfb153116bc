"""The in-memory ProfileStore: fragments, merge policies and people's experience events in
dicts and lists, for unit tests and the contract suite. Use it from one thread."""

from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence
from dataclasses import replace

from wayfare.model.identities import Identity
from wayfare.model.person_events import PersonEvent
from wayfare.model.profile_fragments import Fragment, apply_update
from wayfare.model.profile_merge import MergePolicy
from wayfare.model.profile_records import ProfileUpdate

FragmentKey = tuple[str, Identity, str]
"""(org, identity, dataset)."""


class MemoryProfileStore:
    """ProfileStore in memory."""

    def __init__(self) -> None:
        self._fragments: dict[FragmentKey, Fragment] = {}
        self._policies: dict[str, MergePolicy] = {}
        self._events: list[PersonEvent] = []
        self._seqs = itertools.count(1)

    def apply_profile_update(self, update: ProfileUpdate) -> Fragment | None:
        key = (update.org_id, update.identity, update.dataset_id)
        after = apply_update(self._fragments.get(key), update)
        if after is None:
            self._fragments.pop(key, None)
        else:
            self._fragments[key] = after
        return after

    def profile_fragments(self, org_id: str, identities: Collection[Identity]) -> list[Fragment]:
        wanted = set(identities)
        return [
            fragment
            for (org, identity, _), fragment in sorted(self._fragments.items())
            if org == org_id and identity in wanted
        ]

    def delete_profile_fragments(self, org_id: str, identity: Identity) -> int:
        gone = [key for key in self._fragments if key[0] == org_id and key[1] == identity]
        for key in gone:
            del self._fragments[key]
        return len(gone)

    def merge_policy(self, org_id: str) -> MergePolicy:
        return self._policies.get(org_id, MergePolicy())

    def set_merge_policy(self, org_id: str, policy: MergePolicy) -> None:
        self._policies[org_id] = policy

    def keep_person_events(self, events: Sequence[PersonEvent], per_identity: int) -> None:
        """What an engine commit keeps (store/sql_person_events.py, ``keep_person_events``)."""
        self._events += [replace(e, seq=next(self._seqs)) for e in events]
        for org_id, identity in {(e.org_id, e.identity) for e in events}:
            mine = self.person_events(org_id, [identity], len(self._events))
            for old in mine[per_identity:]:
                self._events.remove(old)

    def person_events(
        self, org_id: str, identities: Collection[Identity], limit: int
    ) -> list[PersonEvent]:
        wanted = set(identities)
        mine = [e for e in self._events if e.org_id == org_id and e.identity in wanted]
        return sorted(mine, key=lambda e: (e.at_ms, e.seq), reverse=True)[: max(limit, 0)]

    def delete_person_events(self, org_id: str, identities: Collection[Identity]) -> int:
        gone = self.person_events(org_id, identities, len(self._events))
        for event in gone:
            self._events.remove(event)
        return len(gone)

    def forget_person_events_before(self, before_ms: int, limit: int) -> int:
        old = sorted((e for e in self._events if e.at_ms < before_ms), key=lambda e: e.at_ms)
        for event in old[:limit]:
            self._events.remove(event)
        return len(old[:limit])

    def close(self) -> None:
        pass
