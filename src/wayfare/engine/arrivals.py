"""What the messages a journey engine's cycle read bring besides events journeys act on:
their identities, linked in the identity graph by the cycle's commit, in log order
(model/identity_graph.py); Profile records, applied to their fragments; experience events of
profile-enabled datasets, kept for their person (engine/profiles.py); and which of them are
retries of a message stored before, acted on once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Sequence

from wayfare.engine.profiles import EngineProfiles
from wayfare.engine.step import Step
from wayfare.log.ports import LogSlice
from wayfare.model.identities import Namespace, linked_identities, namespaces_of
from wayfare.model.identity_graph import Arrival, link
from wayfare.model.person_events import kept_events
from wayfare.store.ports import IdentityGraph, JourneyStore


class CycleNamespaces:
    """Each org's namespaces (its own and the built-in ones), read once a cycle."""

    def __init__(self, graph: IdentityGraph | None) -> None:
        """``graph``: where orgs' own namespaces are read (none: the built-in ones only)."""
        self._graph = graph
        self._known: dict[str, dict[str, Namespace]] = {}

    def __call__(self, org_id: str) -> dict[str, Namespace]:
        known = self._known.get(org_id)
        if known is None:
            own = self._graph.list_namespaces(org_id) if self._graph else []
            known = self._known[org_id] = namespaces_of(own)
        return known


def link_read(
    step: Step,
    read: LogSlice,
    namespaces: CycleNamespaces,
    retried: Collection[str],
    profiles: EngineProfiles | None,
    new_person_id: Callable[[], str],
) -> None:
    """Into ``step``: the identities of each message read, to link; its Profile record, if
    it is one; its experience event, if it is one of a profile-enabled dataset (not for a
    message in ``retried``: its first copy was kept)."""
    names: dict[str, list[str]] = {}
    for m in read.matched:
        names.setdefault(m.xaction_id, []).append(m.event)
    for found in read.identities:
        if profiles is not None:
            update = profiles.update_of(found)
            if update is not None:
                step.batch.profile_updates.append(update)
        known = namespaces(found.org_id)
        identities = linked_identities({"identityMap": found.identity_map}, known)
        if not identities:
            continue
        if profiles is not None and found.xaction_id not in retried:
            kept = profiles.event_of(found, identities, names.get(found.xaction_id, ()))
            if kept is not None:
                step.batch.person_events.append(kept)
        decide = functools.partial(
            link,
            arrived=identities,
            now_ms=found.received_ms,
            namespaces=known,
            new_person_id=new_person_id,
        )
        step.batch.links.append(Arrival(found.org_id, tuple(identities), decide))


def keep_person_events(step: Step, profiles: EngineProfiles | None, now_ms: int) -> None:
    """Of the experience events the cycle read, those young enough to keep, and how many
    each identity keeps (model/person_events.py)."""
    if profiles is None or not step.batch.person_events:
        return
    limits = profiles.event_limits
    batch = step.batch
    batch.person_events = kept_events(batch.person_events, limits, now_ms)
    batch.person_events_per_identity = limits.per_identity


def retried_in(slices: Sequence[LogSlice], store: JourneyStore) -> set[str]:
    """xactionIds of messages read that repeat a msgId stored before or earlier in these
    slices: stored once by the commit, acted on once by the engine. (The event log drops
    almost all of them; these got past it, as a retry after its duplicate window.)"""
    by_org: dict[str, dict[str, str]] = {}
    retried: set[str] = set()
    for read in slices:
        for m in read.messages:
            if m.msg_id is None:
                continue
            seen = by_org.setdefault(m.org_id, {})
            if m.msg_id in seen:
                retried.add(m.xaction_id)
            else:
                seen[m.msg_id] = m.xaction_id
    for org_id, first in by_org.items():
        for msg_id, stored in store.known_message_ids(org_id, list(first)).items():
            if stored.xaction_id != first[msg_id]:
                retried.add(first[msg_id])
    return retried
