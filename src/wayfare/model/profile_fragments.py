"""Profile fragments: the attributes one dataset holds about one identity, each leaf with the
time it was set, and what a Profile record's update does to them.

A fragment is kept as leaves: the path of each scalar or array value, with its time. Objects
are not values of their own: they are merged field by field, and an empty object holds
nothing. Arrays are values: an update that names an array replaces it whole (Adobe asks
streaming upserts to say ``upsert_array_append`` or ``upsert_array_replace`` through Data Prep
mappings, which Wayfare does not have; replacing is what a record that carries the array
says).

Every change is ordered by time, so that updates arriving out of order end where their times
say: a leaf is set or removed only by an update at least as recent as the leaf; a replace or
a delete older than the fragment's latest update changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from wayfare.model.identities import Identity
from wayfare.model.profile_records import Operation, ProfileUpdate

Path = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Leaf:
    value: Any
    """A scalar, or an array (JSON values)."""
    time_ms: int


@dataclass(frozen=True, slots=True)
class Fragment:
    """What one dataset holds about one identity of one org."""

    org_id: str
    dataset_id: str
    identity: Identity
    leaves: Mapping[Path, Leaf]
    updated_ms: int
    """The time of the latest update applied."""

    def attributes(self) -> dict[str, Any]:
        """The leaves as one nested object."""
        return nest((path, leaf.value) for path, leaf in sorted(self.leaves.items()))

    def leaves_json(self) -> list[list[Any]]:
        """The leaves as stored: ``[[path...], value, time], ...`` in path order."""
        return [[list(p), leaf.value, leaf.time_ms] for p, leaf in sorted(self.leaves.items())]


def leaves_from_json(body: list[list[Any]]) -> dict[Path, Leaf]:
    """The inverse of ``Fragment.leaves_json``."""
    return {tuple(path): Leaf(value, time_ms) for path, value, time_ms in body}


def nest(items: Iterator[tuple[Path, Any]] | list[tuple[Path, Any]]) -> dict[str, Any]:
    """Nested objects from (path, value) pairs whose paths do not overlap."""
    root: dict[str, Any] = {}
    for path, value in items:
        node = root
        for name in path[:-1]:
            node = node.setdefault(name, {})
        node[path[-1]] = value
    return root


def flatten(attributes: Mapping[str, Any], prefix: Path = ()) -> Iterator[tuple[Path, Any]]:
    """(path, value) of each value of ``attributes``, objects entered; nulls included (what
    they mean is the operation's business), empty objects yield nothing."""
    for name, value in attributes.items():
        path = (*prefix, name)
        if isinstance(value, dict):
            yield from flatten(value, path)
        else:
            yield path, value


def prefixes(path: Path) -> Iterator[Path]:
    """The paths of the objects ``path`` lies in, outermost first."""
    for i in range(1, len(path)):
        yield path[:i]


def apply_update(fragment: Fragment | None, update: ProfileUpdate) -> Fragment | None:
    """The fragment after ``update`` (None: there is none). Deterministic; applying the
    same update twice changes nothing the second time."""
    if update.operation is Operation.MERGE:
        return _merge(fragment, update)
    if fragment is not None and update.time_ms < fragment.updated_ms:
        return fragment  # stale: a newer update has been applied
    if update.operation is Operation.DELETE:
        return None
    leaves = {
        path: Leaf(value, update.time_ms)
        for path, value in flatten(update.attributes)
        if value is not None
    }
    return _fragment(update, leaves, update.time_ms)


def _merge(fragment: Fragment | None, update: ProfileUpdate) -> Fragment:
    leaves = dict(fragment.leaves) if fragment is not None else {}
    # Objects something lies in: only a path among them can have leaves under it. The
    # update's own paths never overlap each other, so what they add never matters here.
    inner = {q for p in leaves for q in prefixes(p)}
    t = update.time_ms
    for path, value in flatten(update.attributes):
        clashing = [q for q in (*prefixes(path), path) if q in leaves]
        if path in inner:
            clashing += [p for p in leaves if len(p) > len(path) and p[: len(path)] == path]
        if value is None:  # removes what lies at or under the path
            for p in clashing:
                if len(p) >= len(path) and leaves[p].time_ms <= t:
                    del leaves[p]
        elif all(leaves[p].time_ms <= t for p in clashing):
            for p in clashing:
                del leaves[p]
            leaves[path] = Leaf(value, t)
    updated = t if fragment is None else max(fragment.updated_ms, t)
    return _fragment(update, leaves, updated)


def _fragment(update: ProfileUpdate, leaves: dict[Path, Leaf], updated_ms: int) -> Fragment:
    return Fragment(
        org_id=update.org_id,
        dataset_id=update.dataset_id,
        identity=update.identity,
        leaves=leaves,
        updated_ms=updated_ms,
    )
