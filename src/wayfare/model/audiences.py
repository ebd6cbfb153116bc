"""Streaming audiences: a condition on a person's profile attributes and recent events, and
the membership it decides.

An audience's condition is an expression (``expressions.py``) that reads ``#{profile.path}``
and ``count(Event in last N unit)``; it has no payload, no ``@event`` and no ``@action``.
``qualifies`` evaluates it given the person's merged attributes and event counts, and
``next_membership`` decides, purely, what a person's membership becomes: entered when it
qualifies and was not a member, exited when it no longer qualifies, unchanged otherwise.

Journeys start on a membership change (Adobe Journey Optimizer's "audience qualification"):
``queued_entries`` says, purely, which entries a change queues for the journey engine, and
with which identity of the person; ``merged_memberships`` what a person's memberships become
when another person merges into it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from wayfare.errors import InvalidRequestError, Violation
from wayfare.model.expressions import (
    EvaluationError,
    Expression,
    ExpressionError,
    Scope,
    parse,
)
from wayfare.model.identities import Identity
from wayfare.model.identity_graph import Person
from wayfare.model.partitions import partition_of

AUDIENCE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
MAX_DESCRIPTION = 1_000
"""Characters in an audience's description."""
MAX_COUNT = 10_000
"""Where ``count(Event in last …)`` stops: counting a person's events costs as many as
there are, and a person sent events without end (a shared device id, a load test) made
every evaluation of them slower, each a scan of all their events in the window."""
AudienceStatus = Literal["entered", "exited"]
AUDIENCE_STATUSES: tuple[AudienceStatus, ...] = ("entered", "exited")


@dataclass(frozen=True, slots=True)
class Audience:
    """An org's audience: who is in it is decided by ``condition``."""

    org_id: str
    name: str
    condition: Expression
    description: str = ""
    created_ms: int = 0

    def event_windows(self) -> frozenset[tuple[str, int]]:
        """The (event name, window in milliseconds) the condition counts: what a person's
        event counts must hold."""
        return frozenset(term.key for term in self.condition.event_counts())

    def event_names(self) -> frozenset[str]:
        """Events whose arrival can change who qualifies."""
        return frozenset(term.event for term in self.condition.event_counts())

    def reads_profile(self) -> bool:
        """Whether a change of attributes can change who qualifies."""
        return any(ref.kind == "profile" for ref in self.condition.refs())

    def qualifies(
        self, profile: Mapping[str, Any], event_counts: Mapping[tuple[str, int], int], now_ms: int
    ) -> bool | None:
        """Whether a person with these merged attributes and event counts (by name and
        window) is in the audience; None when the condition could not be evaluated (over its
        budget), so that the membership stays as it is."""
        scope = Scope(profile=profile, event_counts=event_counts, now_ms=now_ms)
        try:
            return self.condition.test(scope)
        except EvaluationError:
            return None


def parse_audience(org_id: str, data: object, created_ms: int = 0) -> Audience:
    """An audience from its JSON form ``{"name", "condition", "description"?}``; the
    condition is parsed and refused when it reads a payload, an event or an action."""
    if not isinstance(data, dict):
        raise InvalidRequestError(
            "an audience is an object", violations=(Violation("", "type", "not an object"),)
        )
    problems: list[Violation] = []
    name, source, description = data.get("name"), data.get("condition"), data.get("description")
    if not isinstance(name, str) or not AUDIENCE_NAME.match(name):
        problems.append(
            Violation(
                "/name",
                "pattern",
                "a name starts with a letter and has at most 64 letters, digits, '_' and '-'",
            )
        )
    if description is not None and (
        not isinstance(description, str) or len(description) > MAX_DESCRIPTION
    ):
        problems.append(
            Violation("/description", "maxLength", f"at most {MAX_DESCRIPTION} characters")
        )
    condition: Expression | None = None
    if not isinstance(source, str):
        problems.append(Violation("/condition", "type", "a condition is an expression string"))
    else:
        try:
            condition = parse(source)
        except ExpressionError as exc:
            problems.append(Violation("/condition", "expression", str(exc)))
    if condition is not None:
        problems += [
            Violation("/condition", "expression", reason) for reason in _unreadable(condition)
        ]
    if problems or condition is None:
        detail = "; ".join(f"{v.pointer}: {v.message}" for v in problems)
        raise InvalidRequestError(f"invalid audience: {detail}", violations=tuple(problems))
    assert isinstance(name, str)
    return Audience(org_id, name, condition, description or "", created_ms)


def _unreadable(condition: Expression) -> list[str]:
    """What an audience's condition reads that a person has not: payload fields, events'
    and actions' fields (an audience is evaluated on no one message)."""
    reasons = [
        f"{path.dotted!r} (column {path.column}) reads no profile: write #{{profile.{path.dotted}}}"
        for path in condition.paths()
    ]
    reasons += [
        f"@{ref.kind}{{{ref.name}}} (column {ref.column}) has no value in an audience: it reads "
        "#{profile.path} and count(Event in last N days)"
        for ref in condition.refs()
        if ref.kind != "profile"
    ]
    return reasons


@dataclass(frozen=True, slots=True)
class Membership:
    """A person's place in an audience: member since ``entered_ms``, or, once it no longer
    qualifies, exited at ``exited_ms`` (the last time it entered stays)."""

    audience: str
    person_id: str
    entered_ms: int
    exited_ms: int | None = None

    @property
    def member(self) -> bool:
        return self.exited_ms is None


@dataclass(frozen=True, slots=True)
class MembershipChange:
    """A person entered or exited an audience at ``at_ms``: what journeys starting on
    audience qualification react to."""

    kind: AudienceStatus
    membership: Membership

    @property
    def at_ms(self) -> int:
        if self.kind == "entered":
            return self.membership.entered_ms
        assert self.membership.exited_ms is not None
        return self.membership.exited_ms


def next_membership(
    audience: str,
    person_id: str,
    current: Membership | None,
    qualifies: bool | None,
    now_ms: int,
) -> MembershipChange | None:
    """What the person's membership becomes now that it ``qualifies`` (or not; None:
    undecided), or None when it stays as it is."""
    if qualifies is None:
        return None
    member = current is not None and current.member
    if qualifies and not member:
        return MembershipChange("entered", Membership(audience, person_id, now_ms))
    if not qualifies and member:
        assert current is not None
        return MembershipChange(
            "exited", Membership(audience, person_id, current.entered_ms, now_ms)
        )
    return None


@dataclass(frozen=True, slots=True)
class AudienceStart:
    """Journeys that start when a person's membership of ``audience`` changes to ``status``
    (``entry: {audience, on, namespace}``). An instance carries the person's identity in
    ``namespace``; with none named, the identity whose event or record made the change."""

    audience: str
    status: AudienceStatus
    namespace: str | None = None

    @property
    def key(self) -> str:
        """What stands for an entry event where journeys are found by their entry
        (``audience:NAME:entered``; no event name holds a ``:``)."""
        return start_key(self.audience, self.status)


def start_key(audience: str, status: str) -> str:
    """The entry key of journeys starting when a person's membership of ``audience``
    changes to ``status``."""
    return f"audience:{audience}:{status}"


@dataclass(frozen=True, slots=True)
class AudienceCheck:
    """A person to evaluate in the journey engine's commit: the person holding ``identity``,
    against ``audiences`` (those the change could move), at ``at_ms``. With ``event``, an
    event of that name arrived for the identity: it is kept (to be counted) first.
    ``starts``: the org's journeys starting on audience qualification, for whom a change
    is queued (over ``partitions`` partitions of the event log)."""

    org_id: str
    identity: Identity
    event: str | None
    at_ms: int
    audiences: tuple[Audience, ...]
    starts: tuple[AudienceStart, ...] = ()
    partitions: int = 1
    chain: int = 0
    """Of a change a journey made (updateProfile): how many such changes in a row led to it,
    each entering the journey whose activity made the next (``MAX_CHAIN``); 0 for a change
    an event, a record or time passing made."""

    def windows(self) -> frozenset[tuple[str, int]]:
        """The event counts the audiences read."""
        return frozenset(w for audience in self.audiences for w in audience.event_windows())


def decide_memberships(
    check: AudienceCheck,
    person_id: str,
    profile: Mapping[str, Any],
    event_counts: Mapping[tuple[str, int], int],
    current: Mapping[str, Membership],
) -> list[MembershipChange]:
    """What the person's memberships of the check's audiences become, given their merged
    attributes, event counts and current memberships (by audience name)."""
    changes = []
    for audience in check.audiences:
        qualifies = audience.qualifies(profile, event_counts, check.at_ms)
        change = next_membership(
            audience.name, person_id, current.get(audience.name), qualifies, check.at_ms
        )
        if change is not None:
            changes.append(change)
    return changes


@dataclass(frozen=True, slots=True)
class AudienceEntry:
    """A membership change queued, in the commit that decided it, for the journey engine
    holding ``partition`` to enter the person into the journeys starting on it: those whose
    start names ``namespace`` (None: the identity that made the change). ``identity`` is the
    person's identity the instances carry (None: the person has none in the namespace)."""

    org_id: str
    audience: str
    status: AudienceStatus
    person_id: str
    namespace: str | None
    identity: Identity | None
    partition: int
    at_ms: int
    entry_id: int = 0
    """Given by the store."""
    chain: int = 0
    """The check's ``chain``: the instances it enters carry it (``Instance.chain``)."""

    @property
    def key(self) -> str:
        return start_key(self.audience, self.status)

    def entity(self) -> dict[str, Any]:
        """What an instance keeps of its entry (in place of an entry event's payload)."""
        found = self.identity
        return {
            "audience": self.audience,
            "status": self.status,
            "atMs": self.at_ms,
            "personId": self.person_id,
            "identity": None if found is None else {"namespace": found.namespace, "id": found.id},
        }


def journey_identity(person: Person, namespace: str | None, trigger: Identity) -> Identity | None:
    """The identity an instance of a journey starting on audience qualification carries:
    ``trigger`` (the identity whose event or record made the change) when the journey names
    no namespace or names its namespace; else the person's identity in ``namespace`` linked
    first (ties: the smaller id); None when the person has none there."""
    if namespace is None or namespace == trigger.namespace:
        return trigger
    found = sorted(
        (link.linked_ms, link.identity.id) for link in person.links
        if link.identity.namespace == namespace
    )  # fmt: skip
    return Identity(namespace, found[0][1]) if found else None


def queued_entries(
    check: AudienceCheck, person: Person, changes: Sequence[MembershipChange]
) -> list[AudienceEntry]:
    """The entries ``changes`` queue for journeys: one per change and namespace that
    journeys starting on it name, on the partition of the identity they will carry."""
    entries = []
    for change in changes:
        audience = change.membership.audience
        named = {
            s.namespace for s in check.starts if (s.audience, s.status) == (audience, change.kind)
        }
        for namespace in sorted(named, key=lambda n: (n is not None, n or "")):
            identity = journey_identity(person, namespace, check.identity)
            key = (identity or check.identity).id
            entries.append(
                AudienceEntry(
                    check.org_id, audience, change.kind, person.person_id, namespace, identity,
                    partition_of(check.org_id, key, check.partitions), change.at_ms,
                    chain=check.chain,
                )
            )  # fmt: skip
    return entries


def merged_memberships(
    survivor: str, kept: Sequence[Membership], absorbed: Sequence[Membership]
) -> list[Membership]:
    """The surviving person's memberships once ``absorbed`` (those of the person merged into
    it) are carried over, for each audience the absorbed person had: a member of either is a
    member, since the earlier entry of those who are; of two who exited, the later exit
    stays. Carrying over changes nobody's membership (a member stays one): it queues no
    journey entry."""
    mine = {m.audience: m for m in kept}
    carried = []
    for theirs in absorbed:
        own = mine.get(theirs.audience)
        if own is None:
            chosen = theirs
        elif own.member and theirs.member:
            chosen = own if own.entered_ms <= theirs.entered_ms else theirs
        elif own.member or theirs.member:
            chosen = own if own.member else theirs
        else:
            assert own.exited_ms is not None and theirs.exited_ms is not None
            chosen = own if own.exited_ms >= theirs.exited_ms else theirs
        carried.append(Membership(theirs.audience, survivor, chosen.entered_ms, chosen.exited_ms))
    return carried
