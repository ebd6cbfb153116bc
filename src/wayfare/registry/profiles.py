"""Profile attributes: what a profile-enabled dataset's Profile records do to the fragments
of their primary identities, a person's merged profile, and the org's merge policy.

``apply_profile_record`` is what the journey engine's log consumer calls for each accepted
valid message of a profile-enabled dataset; ``merged_profile`` is what reads a person's
attributes, and ``delete_profile_attributes`` what a privacy delete removes, given the
identities the identity graph knows for that person.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import orjson

from wayfare.errors import InvalidRequestError, MessageFormatError, Violation
from wayfare.model.envelope import read_envelope
from wayfare.model.identities import Identity
from wayfare.model.profile_fragments import Fragment
from wayfare.model.profile_merge import MergedProfile, MergePolicy, merge_fragments
from wayfare.model.profile_records import (
    JOURNEY_PROFILE_DATASET,
    Unapplied,
    not_updating,
    read_profile_record,
)
from wayfare.model.records import IncomingMessage
from wayfare.model.resources import Dataset, Schema
from wayfare.registry.schemas import SchemaRegistry
from wayfare.store.ports import ProfileStore


@dataclass(frozen=True, slots=True)
class ProfileOutcome:
    """What a record did to profiles: the fragment after it (None: it has none, or the
    record was not applied), or why it was not applied."""

    applied: bool
    fragment: Fragment | None = None
    reason: str | None = None


def apply_profile_record(
    profiles: ProfileStore, dataset: Dataset, schema: Schema, message: IncomingMessage
) -> ProfileOutcome:
    """Apply a valid message of ``dataset`` (of ``schema``) to the fragment of its primary
    identity. Only Profile records of a dataset enabled for Profile update attributes."""
    refused = not_updating(dataset, schema)
    if refused is not None:
        return ProfileOutcome(False, reason=refused.reason)
    try:
        envelope = read_envelope(orjson.loads(message.payload))
    except (orjson.JSONDecodeError, MessageFormatError) as exc:
        return ProfileOutcome(False, reason=f"not an XDM message: {exc}")
    update = read_profile_record(
        dataset.org_id, dataset.dataset_id, envelope.header, envelope.entity, message.received_ms
    )
    if isinstance(update, Unapplied):
        return ProfileOutcome(False, reason=update.reason)
    return ProfileOutcome(True, profiles.apply_profile_update(update))


def merged_profile(
    profiles: ProfileStore, org_id: str, identities: Collection[Identity]
) -> MergedProfile:
    """One person's attributes, from the fragments of all their identities, by the org's
    merge policy, with where each came from."""
    return merge_fragments(
        profiles.profile_fragments(org_id, identities), profiles.merge_policy(org_id)
    )


def delete_profile_attributes(
    profiles: ProfileStore, org_id: str, identities: Collection[Identity]
) -> int:
    """A privacy delete's part in profiles: every fragment of these identities (a person's),
    in every dataset, goes; how many went. Their records stay in their datasets."""
    return sum(profiles.delete_profile_fragments(org_id, identity) for identity in identities)


class MergePolicies:
    """Each org's merge policy, as the admin API and apply set it."""

    def __init__(self, profiles: ProfileStore, schemas: SchemaRegistry) -> None:
        self._profiles = profiles
        self._schemas = schemas

    def get(self, org_id: str) -> MergePolicy:
        return self._profiles.merge_policy(org_id)

    def set(self, org_id: str, data: object) -> MergePolicy:
        """Read the policy (``order`` may name datasets by id or name: ids are kept; the
        journeys' own ``journeyProfileUpdates`` by its id) and store it; NotFoundError for
        a dataset the org does not have."""
        policy = MergePolicy.from_json(data)
        order = tuple(
            key if key == JOURNEY_PROFILE_DATASET else self._schemas.dataset(org_id, key).dataset_id
            for key in policy.order
        )
        if len(set(order)) != len(order):
            raise InvalidRequestError(
                "attributeMerge.order names a dataset twice (by its id and its name)",
                violations=(Violation("/attributeMerge/order", "uniqueItems", "a dataset twice"),),
            )
        resolved = MergePolicy(policy.attribute_merge, order)
        if resolved != self._profiles.merge_policy(org_id):
            self._profiles.set_merge_policy(org_id, resolved)
        return resolved
