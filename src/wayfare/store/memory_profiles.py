"""The in-memory ProfileStore: fragments and merge policies in dicts, for unit tests and the
contract suite. Use it from one thread."""

from __future__ import annotations

from collections.abc import Collection

from wayfare.model.profile_fragments import Fragment, apply_update
from wayfare.model.profile_merge import MergePolicy
from wayfare.model.profile_records import IdentityKey, ProfileUpdate

FragmentKey = tuple[str, IdentityKey, str]
"""(org, identity, dataset)."""


class MemoryProfileStore:
    """ProfileStore in memory."""

    def __init__(self) -> None:
        self._fragments: dict[FragmentKey, Fragment] = {}
        self._policies: dict[str, MergePolicy] = {}

    def apply_profile_update(self, update: ProfileUpdate) -> Fragment | None:
        key = (update.org_id, update.identity, update.dataset_id)
        after = apply_update(self._fragments.get(key), update)
        if after is None:
            self._fragments.pop(key, None)
        else:
            self._fragments[key] = after
        return after

    def profile_fragments(self, org_id: str, identities: Collection[IdentityKey]) -> list[Fragment]:
        wanted = set(identities)
        return [
            fragment
            for (org, identity, _), fragment in sorted(self._fragments.items())
            if org == org_id and identity in wanted
        ]

    def delete_profile_fragments(self, org_id: str, identity: IdentityKey) -> int:
        gone = [key for key in self._fragments if key[0] == org_id and key[1] == identity]
        for key in gone:
            del self._fragments[key]
        return len(gone)

    def merge_policy(self, org_id: str) -> MergePolicy:
        return self._policies.get(org_id, MergePolicy())

    def set_merge_policy(self, org_id: str, policy: MergePolicy) -> None:
        self._policies[org_id] = policy

    def close(self) -> None:
        pass
