"""Matching an accepted message against its org's event configurations.

System-generated events are a dictionary lookup on the message's eventID; rule-based events
test their condition, compiled once when the index is made (a message matching N rule-based
events fires N times). Each outcome says matched (with the person's identity) or why not, so
"my event arrives but nothing happens" has an answer. A message without an eventID is no
system event's: no outcome is kept for it, and one is told from its record when an event's
messages are read (``lacking_event_id``).

Matching runs inside the inlet's request, so its cost is bounded: the conditions of one
message share a budget of ``MATCH_STEPS`` evaluation steps (``expressions.Budget``); a
condition that overruns it, or a stored one that no longer compiles (saved before a limit),
is not met, and its outcome says why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from wayfare.model.envelope import entity_of
from wayfare.model.events import EventConfig, Unmatched, identity_of
from wayfare.model.expressions import (
    MAX_STEPS,
    Budget,
    EvaluationError,
    Expression,
    ExpressionError,
    parse,
)

if TYPE_CHECKING:
    from wayfare.model.records import Record

MATCH_STEPS = MAX_STEPS
"""Evaluation steps all the rule-based conditions of one message take together at most: no
more than one evaluation may."""
_QUOTED_CONDITION = 200
"""Characters of a condition an unmet outcome quotes (each outcome is stored)."""


class EventMatch(msgspec.Struct, frozen=True):
    """One outcome: the message is the event of ``identity``, or why not (``cause`` and, in
    words, ``reason``)."""

    event_name: str
    identity: str | None
    cause: Unmatched | None = None
    reason: str | None = None

    @property
    def matched(self) -> bool:
        return self.cause is None

    @property
    def counts(self) -> bool:
        """Journeys act on it: matched, or the event of a person who cannot be told."""
        return self.cause is None or self.cause.counts

    def as_json(self) -> dict[str, Any]:
        return {
            "event": self.event_name,
            "matched": self.matched,
            "identity": self.identity,
            "cause": self.cause,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class RuleEvent:
    """A rule-based event with its condition compiled, and the outcome of a message that
    does not meet it, made once."""

    config: EventConfig
    condition: Expression | None
    """None: the stored condition does not compile (it breaks a limit set after it was
    saved); no message meets it."""
    unmet: EventMatch

    @classmethod
    def of(cls, config: EventConfig) -> RuleEvent:
        source = config.condition or ""
        try:
            condition = parse(source)
        except ExpressionError as exc:
            return cls(config, None, _unmet(config, f"it cannot be evaluated ({exc.message})"))
        if len(source) > _QUOTED_CONDITION:
            source = source[:_QUOTED_CONDITION] + "…"
        return cls(config, condition, _unmet(config, source))

    def outcome(self, entity: Mapping[str, Any], budget: Budget) -> EventMatch:
        if self.condition is None:
            return self.unmet
        try:
            met = self.condition.test(entity, budget)
        except EvaluationError as exc:
            return _unmet(self.config, f"it could not be evaluated ({exc})")
        return _outcome(self.config, entity) if met else self.unmet


def _unmet(config: EventConfig, why: str) -> EventMatch:
    return EventMatch(config.name, None, Unmatched.CONDITION_NOT_MET, f"condition not met: {why}")


@dataclass(frozen=True, slots=True)
class EventIndex:
    """The events of one schema, arranged for matching."""

    by_event_id: Mapping[str, EventConfig]
    system: Sequence[EventConfig]
    rules: Sequence[RuleEvent]

    @classmethod
    def of(cls, events: Sequence[EventConfig]) -> EventIndex:
        system = [e for e in events if e.id_type == "system"]
        return cls(
            by_event_id={e.event_id: e for e in system if e.event_id},
            system=tuple(system),
            rules=tuple(RuleEvent.of(e) for e in events if e.id_type == "rule"),
        )

    @property
    def empty(self) -> bool:
        return not self.system and not self.rules


def all_system_events(schema_id: str) -> str:
    """The name an outcome for every system event of a schema is kept under: a message
    with an eventID none of them has fails them all for one reason, told once rather than
    once for each (``*`` begins no event's name)."""
    return "*" + schema_id


def _for_all(
    system: Sequence[EventConfig], cause: Unmatched, reason: str
) -> tuple[EventMatch, ...]:
    """One outcome for the system events of each schema in ``system`` (an index holds one
    schema's events)."""
    schemas = dict.fromkeys(e.schema_id for e in system)
    return tuple(EventMatch(all_system_events(s), None, cause, reason) for s in schemas)


def event_id_of(entity: Mapping[str, Any]) -> Any:
    """The message's ``_experience.campaign.orchestration.eventID``; None when it has none."""
    node: Any = entity
    for key in ("_experience", "campaign", "orchestration", "eventID"):
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _outcome(config: EventConfig, entity: Mapping[str, Any]) -> EventMatch:
    identity, cause, reason = identity_of(config, entity)
    return EventMatch(config.name, identity, cause, reason)


def match_message(index: EventIndex, entity: Mapping[str, Any]) -> list[EventMatch]:
    outcomes: list[EventMatch] = []
    if index.system:
        event_id = event_id_of(entity)
        config = index.by_event_id.get(event_id) if isinstance(event_id, str) else None
        if config is not None:
            outcomes.append(_outcome(config, entity))
        elif event_id is not None:  # none: not an event, no outcome kept (lacking_event_id)
            reason = f"unknown eventID {event_id!r}"
            outcomes.extend(_for_all(index.system, Unmatched.UNKNOWN_EVENT_ID, reason))
    budget = Budget(MATCH_STEPS)
    outcomes.extend(rule.outcome(entity, budget) for rule in index.rules)
    return outcomes


@dataclass(frozen=True, slots=True)
class MatchRecord:
    """A stored matching outcome: which message, when, and what happened."""

    seq: int
    """The message's record's."""
    xaction_id: str
    received_ms: int
    match: EventMatch

    def named(self, name: str) -> MatchRecord:
        """This record as an outcome of the event ``name``: one kept for all the system
        events of its schema (``all_system_events``) is an outcome of each."""
        match = msgspec.structs.replace(self.match, event_name=name)
        return MatchRecord(self.seq, self.xaction_id, self.received_ms, match)

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "xactionId": self.xaction_id,
            "receivedTimeMs": self.received_ms,
            **self.match.as_json(),
        }


NO_EVENT_ID = "unknown eventID: the message has no _experience.campaign.orchestration.eventID"


def lacking_event_id(name: str, records: Iterable[Record], since_ms: int) -> list[MatchRecord]:
    """The outcomes for the system event ``name`` of those ``records`` (of its schema) that
    have no eventID, received from ``since_ms`` on (the event's creation: an older message
    was not matched against it). Such a message is no event: nothing is kept for it when it
    is stored (``match_message``); this tells it from its record when it is asked for."""
    missing = EventMatch(name, None, Unmatched.NO_EVENT_ID, NO_EVENT_ID)
    return [
        MatchRecord(r.seq, r.xaction_id, r.received_ms, missing)
        for r in records
        if r.received_ms >= since_ms and event_id_of(entity_of(r.message)) is None
    ]
