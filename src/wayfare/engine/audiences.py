"""Which persons' audience memberships the events of one cycle may change: the journey
engine's part in streaming audiences. The commit of the cycle keeps each event and decides
each person's memberships (store/audience_checks.py, model/audiences.py).

Work per message is bounded: only events some audience of the org counts are kept and
checked, and only against those audiences; each org's audiences are read once a cycle.
A change of a person's profile attributes calls for a check against the audiences that
read the profile (``for_profile_changes``), for the Profile records the cycle applies and the
updateProfile activities its steps carried out. Time passing calls for checks too: a
bounded page of members at a time (``for_time_passing``), whose counted events may have left
their window.

Each check carries the org's journeys starting on audience qualification (``starts``, given
by the engine, which keeps its journeys) and the event log's partition count, so that the
commit queues each membership change such journeys start on for the engine holding the
partition of the identity the instances will carry (model/audiences.py, ``queued_entries``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

from wayfare.model.audiences import Audience, AudienceCheck, AudienceStart
from wayfare.model.identities import Identity, Namespace, linked_identities
from wayfare.model.identity_graph import Person
from wayfare.model.profile_records import ProfileUpdate
from wayfare.model.runs import MatchedMessage
from wayfare.store.ports import AudienceStore


class AudienceChecks:
    """The checks a cycle's events call for, given where audiences are kept."""

    def __init__(
        self,
        store: AudienceStore,
        starts: Callable[[str], tuple[AudienceStart, ...]] = lambda org_id: (),
        partitions: int = 1,
    ) -> None:
        self._store = store
        self._starts = starts
        """The org's journeys starting on audience qualification (taking people in)."""
        self._partitions = partitions

    def _check(
        self,
        org_id: str,
        identity: Identity,
        event: str | None,
        now_ms: int,
        audiences: tuple[Audience, ...],
        chain: int = 0,
    ) -> AudienceCheck:
        names = {a.name for a in audiences}
        starts = tuple(s for s in self._starts(org_id) if s.audience in names)
        return AudienceCheck(
            org_id, identity, event, now_ms, audiences, starts, self._partitions, chain
        )

    def for_profile_changes(
        self, updates: Sequence[ProfileUpdate], now_ms: int
    ) -> list[AudienceCheck]:
        """The checks changes of profile attributes call for: each updated identity against
        its org's audiences that read the profile (each org's read once)."""
        reading: dict[str, tuple[Audience, ...]] = {}
        found: list[AudienceCheck] = []
        for update in updates:
            audiences = reading.get(update.org_id)
            if audiences is None:
                audiences = reading[update.org_id] = tuple(
                    a for a in self._store.list_audiences(update.org_id) if a.reads_profile()
                )
            if audiences:
                identity = Identity(update.identity.namespace, update.identity.id)
                found.append(
                    self._check(update.org_id, identity, None, now_ms, audiences, update.chain)
                )
        return found

    def checks(
        self,
        matched: Sequence[MatchedMessage],
        skipped: Collection[str],
        namespaces: Callable[[str], Mapping[str, Namespace]],
        now_ms: int,
    ) -> list[AudienceCheck]:
        """A check per matched event (but those whose xactionId is in ``skipped``) that an
        audience of its org counts, for the first identity of the event's identityMap."""
        by_event: dict[str, dict[str, list[Audience]]] = {}
        found: list[AudienceCheck] = []
        for m in matched:
            if m.xaction_id in skipped or m.identity is None:
                continue
            counting = by_event.get(m.org_id)
            if counting is None:
                counting = by_event[m.org_id] = _counting(self._store.list_audiences(m.org_id))
            audiences = counting.get(m.event)
            if not audiences:
                continue
            identities = linked_identities(m.entity, namespaces(m.org_id))
            if identities:
                found.append(
                    self._check(m.org_id, identities[0], m.event, now_ms, tuple(audiences))
                )
        return found

    def for_time_passing(
        self,
        after: tuple[str, str, str] | None,
        limit: int,
        person: Callable[[str, str], Person | None],
        now_ms: int,
    ) -> tuple[list[AudienceCheck], tuple[str, str, str] | None]:
        """A page of current members (``limit`` after ``after``) to evaluate again because
        time has passed: those of audiences that count events, whose counted events may
        have left their window. Each check names the person (``person``: by org and person
        id) by their identity linked first. The cursor of the next page (None: start
        again)."""
        page = self._store.members_after(after, limit)
        counting: dict[str, dict[str, Audience]] = {}
        found: list[AudienceCheck] = []
        for org_id, membership in page:
            audiences = counting.get(org_id)
            if audiences is None:
                audiences = counting[org_id] = {
                    a.name: a for a in self._store.list_audiences(org_id) if a.event_windows()
                }
            audience = audiences.get(membership.audience)
            held = person(org_id, membership.person_id) if audience is not None else None
            if audience is None or held is None or not held.links:
                continue
            first = min(
                held.links, key=lambda x: (x.linked_ms, x.identity.namespace, x.identity.id)
            )
            found.append(self._check(org_id, first.identity, None, now_ms, (audience,)))
        if len(page) < limit:
            return found, None
        org_id, last = page[-1]
        return found, (org_id, last.audience, last.person_id)


def _counting(audiences: Sequence[Audience]) -> dict[str, list[Audience]]:
    """The org's audiences by each event they count."""
    by_event: dict[str, list[Audience]] = {}
    for audience in audiences:
        for event in audience.event_names():
            by_event.setdefault(event, []).append(audience)
    return by_event
