"""The identity graph of an org: persons, the identities linked to each, and THE linking rule.

A person is a stable person id and the identities linked to it, each with when it was
linked. Identities that arrive together (one message's ``identityMap``) are linked: they end
up on one person. ``link`` decides how, as a pure function of the persons those identities
belong to now, the identities, the time, the org's namespaces and an id source:

1. Identities no person holds are linked to the person the others belong to; when none
   belongs to a person, to a new one (its id from ``new_person_id``).
2. When the identities belong to several persons, the persons merge into one. The person
   created first survives (the earliest ``created_ms``, then the smallest person id): its id
   stays, the others' ids are recorded as merged into it. Each identity keeps the time it was
   first linked.
3. Graph collapse: a ``unique`` namespace (CRMID by default) holds at most one identity per
   person. When a merge would give a person two, the newest link wins: the identity that
   arrived, or else the one linked most recently (then the smallest). A person holding a
   losing identity does not merge; the identities that arrived are taken from it onto the
   winner's person instead (the shared device goes to whoever signed in last), and those
   links are recorded as dropped. Of two identities of one unique namespace in a single
   message, the first is linked and the others dropped.
4. At most ``MAX_IDENTITIES`` identities per person: the identities that arrived stay, and of
   the others, the oldest links drop first (then the largest identity), recorded.

Dropped identities belong to no person afterwards (they start a new person when they next
arrive). Nothing here reads a clock or a store: the store keeps what ``link`` decides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum

import msgspec

from wayfare.model.identities import Identity, Namespace

MAX_IDENTITIES = 50
"""Identities per person, as Adobe's identity graph guardrail."""


class Link(msgspec.Struct, frozen=True, order=True):
    """An identity of a person, and when it was linked to that person (ms)."""

    identity: Identity
    linked_ms: int


class Person(msgspec.Struct, frozen=True):
    """A person of the graph: its id, when it was created, and its links (by identity)."""

    person_id: str
    created_ms: int
    links: tuple[Link, ...]

    @property
    def identities(self) -> frozenset[Identity]:
        return frozenset(link.identity for link in self.links)


class DropCause(StrEnum):
    LIMIT = "limit"
    """The person held MAX_IDENTITIES: its oldest link dropped."""
    UNIQUE = "unique"
    """A newer identity of a unique namespace won (graph-collapse protection)."""


class Dropped(msgspec.Struct, frozen=True):
    """A link the guardrails dropped: the identity, the person it was (or would have been)
    linked to, and why."""

    identity: Identity
    person_id: str
    cause: DropCause


class Merge(msgspec.Struct, frozen=True):
    absorbed: str
    survivor: str


class GraphChange(msgspec.Struct, frozen=True):
    """What ``link`` decided."""

    person_id: str | None
    """The person the arrived identities are linked to now (None: nothing arrived)."""
    at_ms: int
    """When: the time the identities arrived."""
    persons: tuple[Person, ...] = ()
    """The new state of every person that changed (created, linked, or losing identities);
    a person that is not here is unchanged, or merged away."""
    merges: tuple[Merge, ...] = ()
    added: tuple[Link, ...] = ()
    """Links made: identities new to the survivor."""
    dropped: tuple[Dropped, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.persons or self.merges)


Decide = Callable[[Sequence[Person]], GraphChange]
"""``link`` with all but the persons bound: what a store calls inside its transaction."""


class Arrival(msgspec.Struct, frozen=True):
    """Identities of one org that arrived together, and the rule that links them."""

    org_id: str
    identities: tuple[Identity, ...]
    decide: Decide


def link(
    current: Sequence[Person],
    arrived: Sequence[Identity],
    now_ms: int,
    namespaces: Mapping[str, Namespace],
    new_person_id: Callable[[], str],
) -> GraphChange:
    """Link the identities that ``arrived`` together (see the module's docstring).
    ``current``: the persons holding any of them (others are ignored)."""
    unique = {code for code, ns in namespaces.items() if ns.unique}
    arrived, dropped_first = _one_per_unique_namespace(arrived, unique)
    if not arrived:
        return GraphChange(None, now_ms)
    if not dropped_first:
        if not current and len(arrived) <= MAX_IDENTITIES:  # a new person, of these alone
            added = tuple(Link(x, now_ms) for x in arrived)
            person = Person(new_person_id(), now_ms, tuple(sorted(added)))
            return GraphChange(person.person_id, now_ms, (person,), added=added)
        holder = _holder_of_all(current, arrived)
        if holder is not None:  # what most messages bring: nothing changes
            return GraphChange(holder.person_id, now_ms)
    return _relink(current, arrived, dropped_first, unique, now_ms, new_person_id)


def _holder_of_all(current: Sequence[Person], arrived: Sequence[Identity]) -> Person | None:
    """The person holding every identity that arrived, and only they, within the limit."""
    wanted = set(arrived)
    holders = [p for p in current if p.identities & wanted]
    if len(holders) != 1:
        return None
    (holder,) = holders
    if wanted <= holder.identities and len(holder.links) <= MAX_IDENTITIES:
        return holder
    return None


def _relink(
    current: Sequence[Person],
    arrived: Sequence[Identity],
    dropped_first: Sequence[Identity],
    unique: set[str],
    now_ms: int,
    new_person_id: Callable[[], str],
) -> GraphChange:
    """``link`` worked out in full: merges, unique namespaces, the limit."""
    wanted = set(arrived)
    owners = {p.person_id: p for p in current if p.identities & wanted}
    owner_of = {link.identity: p.person_id for p in owners.values() for link in p.links}
    winners = _winners(owners.values(), arrived, unique)
    losers = {
        pid
        for pid, p in owners.items()
        if any(x.namespace in unique and winners[x.namespace] != x for x in p.identities)
    }
    merging = sorted(
        (p for pid, p in owners.items() if pid not in losers),
        key=lambda p: (p.created_ms, p.person_id),
    )
    if merging:
        survivor_id, created_ms = merging[0].person_id, merging[0].created_ms
    else:
        survivor_id, created_ms = new_person_id(), now_ms
    links: dict[Identity, int] = {}
    for person in merging:
        links.update((x.identity, x.linked_ms) for x in person.links)
    dropped = [Dropped(x, survivor_id, DropCause.UNIQUE) for x in dropped_first]
    added = [Link(x, now_ms) for x in arrived if x not in links]
    for new in added:
        links[new.identity] = now_ms
        if owner_of.get(new.identity) in losers:
            dropped.append(Dropped(new.identity, owner_of[new.identity], DropCause.UNIQUE))
    kept, over = _within_limit(links, wanted)
    dropped += [Dropped(x, survivor_id, DropCause.LIMIT) for x in over]
    added = [x for x in added if x.identity in kept]
    survivor = Person(survivor_id, created_ms, _sorted_links(kept))
    persons = []
    if survivor_id not in owners or added or over or len(merging) > 1:
        persons.append(survivor)
    for pid in sorted(losers):
        loser = owners[pid]
        left = tuple(x for x in loser.links if x.identity not in wanted)
        if len(left) != len(loser.links):
            persons.append(Person(pid, loser.created_ms, left))
    return GraphChange(
        survivor_id,
        now_ms,
        tuple(persons),
        tuple(Merge(p.person_id, survivor_id) for p in merging[1:]),
        tuple(added),
        tuple(dropped),
    )


def _one_per_unique_namespace(
    arrived: Sequence[Identity], unique: set[str]
) -> tuple[list[Identity], list[Identity]]:
    """The identities, each once, the first of each unique namespace only; and the others."""
    kept: list[Identity] = []
    extra: list[Identity] = []
    seen: set[str] = set()
    for x in dict.fromkeys(arrived):
        if x.namespace in unique:
            if x.namespace in seen:
                extra.append(x)
                continue
            seen.add(x.namespace)
        kept.append(x)
    return kept, extra


def _winners(
    owners: Iterable[Person], arrived: Sequence[Identity], unique: set[str]
) -> dict[str, Identity]:
    """Per unique namespace, the identity the merged person keeps: the one that arrived, or
    the newest link (then the smallest identity)."""
    winners = {x.namespace: x for x in arrived if x.namespace in unique}
    candidates: dict[str, list[Link]] = {}
    for person in owners:
        for x in person.links:
            if x.identity.namespace in unique and x.identity.namespace not in winners:
                candidates.setdefault(x.identity.namespace, []).append(x)
    for namespace, links in candidates.items():
        newest = min(links, key=lambda x: (-x.linked_ms, x.identity))
        winners[namespace] = newest.identity
    return winners


def _within_limit(
    links: dict[Identity, int], wanted: set[Identity]
) -> tuple[dict[Identity, int], list[Identity]]:
    """The links a person keeps (MAX_IDENTITIES: those that arrived, then the newest), and
    the identities dropped, oldest first."""
    if len(links) <= MAX_IDENTITIES:
        return links, []
    order = sorted(links, key=lambda x: (x not in wanted, -links[x], x))
    kept = {x: links[x] for x in order[:MAX_IDENTITIES]}
    return kept, list(reversed(order[MAX_IDENTITIES:]))


def _sorted_links(links: Mapping[Identity, int]) -> tuple[Link, ...]:
    return tuple(Link(x, ms) for x, ms in sorted(links.items()))


def apply_change(persons: Mapping[str, Person], change: GraphChange) -> dict[str, Person]:
    """``persons`` (by id) with ``change`` made: what a store keeps after storing it."""
    after = dict(persons)
    for merge in change.merges:
        after.pop(merge.absorbed, None)
    for person in change.persons:
        after[person.person_id] = person
    return after
