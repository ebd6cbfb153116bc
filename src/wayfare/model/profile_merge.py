"""Merging the fragments of a person (several identities, several datasets) into one profile
by the org's merge policy, saying where each attribute came from.

Adobe's two attribute merges: ``timestampOrdered`` (the default: the most recently updated
value wins) and ``dataSetPrecedence`` (values of the datasets listed first win; Wayfare ranks
datasets left off the list after those listed, by time). Both are decided leaf by leaf, with
each leaf's own time (a merge update sets some leaves of a fragment and not others), and a
leaf never lands where a chosen one already lies (an object's field against a value at the
object's path). Ties fall to the dataset id, then the identity: the result does not depend
on the order the fragments are given in.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from wayfare.errors import InvalidRequestError, Violation
from wayfare.model.identities import Identity
from wayfare.model.profile_fragments import Fragment, Leaf, Path, apply_update, nest, prefixes
from wayfare.model.profile_records import ProfileUpdate


class AttributeMerge(enum.Enum):
    TIMESTAMP_ORDERED = "timestampOrdered"
    DATASET_PRECEDENCE = "dataSetPrecedence"


@dataclass(frozen=True, slots=True)
class MergePolicy:
    """How an org's fragments become one profile."""

    attribute_merge: AttributeMerge = AttributeMerge.TIMESTAMP_ORDERED
    order: tuple[str, ...] = ()
    """Dataset precedence: dataset ids, the first winning."""

    def as_json(self) -> dict[str, Any]:
        merge: dict[str, Any] = {"type": self.attribute_merge.value}
        if self.attribute_merge is AttributeMerge.DATASET_PRECEDENCE:
            merge["order"] = list(self.order)
        return {"attributeMerge": merge}

    @classmethod
    def from_json(cls, body: object) -> MergePolicy:
        """Read ``{"attributeMerge": {"type": ..., "order": [...]}}``; InvalidRequestError."""
        merge = body.get("attributeMerge") if isinstance(body, dict) else None
        if not isinstance(merge, dict):
            raise _invalid("/attributeMerge", "required", "attributeMerge must be an object")
        kinds = {k.value: k for k in AttributeMerge}
        kind_name = merge.get("type")
        kind = kinds.get(kind_name) if isinstance(kind_name, str) else None
        if kind is None:
            raise _invalid(
                "/attributeMerge/type", "enum", f"type must be one of {', '.join(kinds)}"
            )
        order = merge.get("order", [])
        if not isinstance(order, list):
            raise _invalid("/attributeMerge/order", "type", "order must be a list of dataset ids")
        if kind is AttributeMerge.TIMESTAMP_ORDERED:
            if order:
                raise _invalid(
                    "/attributeMerge/order", "const", "order is for dataSetPrecedence only"
                )
            return cls(kind)
        if not order or not all(isinstance(d, str) and d for d in order):
            raise _invalid(
                "/attributeMerge/order", "type", "order must be a non-empty list of dataset ids"
            )
        if len(set(order)) != len(order):
            raise _invalid("/attributeMerge/order", "uniqueItems", "order names a dataset twice")
        return cls(kind, tuple(order))


def _invalid(pointer: str, keyword: str, message: str) -> InvalidRequestError:
    return InvalidRequestError(message, violations=(Violation(pointer, keyword, message),))


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a merged attribute came from."""

    dataset_id: str
    identity: Identity
    time_ms: int


@dataclass(frozen=True, slots=True)
class MergedProfile:
    attributes: dict[str, Any]
    provenance: dict[Path, Provenance]
    """Each leaf of ``attributes`` -> the fragment and time it came from."""

    def as_json(self) -> dict[str, Any]:
        return {
            "attributes": self.attributes,
            "provenance": [
                {
                    "path": ".".join(path),
                    "datasetId": source.dataset_id,
                    "identity": {"namespace": source.identity.namespace, "id": source.identity.id},
                    "timeMs": source.time_ms,
                }
                for path, source in sorted(self.provenance.items())
            ],
        }


def merge_fragments(fragments: Iterable[Fragment], policy: MergePolicy) -> MergedProfile:
    """One profile from ``fragments`` by ``policy``."""
    rank = {dataset_id: i for i, dataset_id in enumerate(policy.order)}
    by_precedence = policy.attribute_merge is AttributeMerge.DATASET_PRECEDENCE

    def key(candidate: tuple[Path, Leaf, Fragment]) -> tuple[Any, ...]:
        path, leaf, fragment = candidate
        ordered = (-leaf.time_ms, fragment.dataset_id, fragment.identity, path)
        if by_precedence:
            return (rank.get(fragment.dataset_id, len(rank)), *ordered)
        return ordered

    candidates = sorted(
        (
            (path, leaf, fragment)
            for fragment in fragments
            for path, leaf in fragment.leaves.items()
        ),
        key=key,
    )
    chosen: dict[Path, tuple[Leaf, Fragment]] = {}
    inner: set[Path] = set()  # objects a chosen leaf lies in
    for path, leaf, fragment in candidates:
        free = path not in chosen and path not in inner
        if free and not any(p in chosen for p in prefixes(path)):
            chosen[path] = (leaf, fragment)
            inner.update(prefixes(path))
    return MergedProfile(
        attributes=nest(sorted((path, leaf.value) for path, (leaf, _) in chosen.items())),
        provenance={
            path: Provenance(fragment.dataset_id, fragment.identity, leaf.time_ms)
            for path, (leaf, fragment) in chosen.items()
        },
    )


@dataclass(frozen=True, slots=True)
class PersonView:
    """What a journey step reads and writes of one person's profile: the fragments of all
    the person's identities, the org's merge policy, and the identity the step's instance
    names the person by (where its updateProfile activities write)."""

    identity: Identity
    fragments: tuple[Fragment, ...]
    policy: MergePolicy
    known: bool = True
    """Some person holds ``identity`` (False: the view is of the identity alone)."""

    def attributes(self) -> dict[str, Any]:
        return merge_fragments(self.fragments, self.policy).attributes

    def applied(self, update: ProfileUpdate) -> PersonView:
        """The view once ``update`` is applied to its fragment (as a store applies it)."""
        kept = []
        before = None
        for fragment in self.fragments:
            if (fragment.identity, fragment.dataset_id) == (update.identity, update.dataset_id):
                before = fragment
            else:
                kept.append(fragment)
        after = apply_update(before, update)
        if after is not None:
            kept.append(after)
        return PersonView(self.identity, tuple(kept), self.policy, self.known)
