"""What the journey runtime reads and writes: versions, due timers, outbox items, batches."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from wayfare.model.audiences import AudienceCheck
from wayfare.model.envelope import entity_of
from wayfare.model.events import Unmatched
from wayfare.model.identity_graph import Arrival
from wayfare.model.instances import Instance
from wayfare.model.nesting import nesting_bound
from wayfare.model.person_events import PER_IDENTITY, PersonEvent
from wayfare.model.profile_records import ProfileUpdate
from wayfare.model.records import IncomingMessage

JourneyState = Literal["draft", "live", "closed", "stopped", "finished"]


@dataclass(frozen=True, slots=True)
class JourneyVersion:
    org_id: str
    name: str
    version: int
    state: JourneyState
    entry_event: str
    definition: dict[str, Any]
    test_mode: bool
    created_ms: int
    changed_ms: int
    paused: str | None = None
    """Why the journey engine paused the version (its steps kept failing): it takes no one
    in, whatever its state, until resumed; people inside carry on."""

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "state": self.state,
            "paused": self.paused,
            "testMode": self.test_mode,
            "entryEvent": self.entry_event,
            "imsOrg": self.org_id,
            "createdMs": self.created_ms,
            "changedMs": self.changed_ms,
            "definition": self.definition,
        }


class MatchedMessage(msgspec.Struct, frozen=True):
    """An event journeys act on, read from the event log at ``position``."""

    position: int
    org_id: str
    event: str
    identity: str | None
    entity: dict[str, Any]
    cause: Unmatched | None = None
    """Set when the message is the event but its person could not be told."""
    nesting_bound: int | None = None
    """At least how deeply ``entity`` nests (model/nesting.py), when known without a walk."""
    xaction_id: str = ""
    """Of the message it was read from."""


def matched_messages(
    message: IncomingMessage,
    position: int,
    loads: Callable[[bytes], Any] = json.loads,
) -> list[MatchedMessage]:
    """What journeys act on in ``message``, read at ``position`` of the event log: one
    MatchedMessage per outcome that counts (model/matching.py), in outcome order, each with
    the payload's ``body.xdmEntity`` (an empty one when that is not an object). The payload
    is parsed (by ``loads``) only when an outcome counts; a failed message has none."""
    counted = [m for m in message.matches or () if m.counts]
    if not counted or message.reasons is not None:
        return []
    entity = entity_of(loads(message.payload))
    bound = nesting_bound(message.payload)
    return [
        MatchedMessage(
            position,
            message.org_id,
            m.event_name,
            m.identity,
            entity,
            m.cause,
            bound,
            message.xaction_id,
        )
        for m in counted
    ]


class ArrivedIdentities(msgspec.Struct, frozen=True):
    """The ``identityMap`` of an accepted, valid message read from the event log: what the
    identity graph links (model/identity_graph.py); and, for a Profile record of a
    profile-enabled dataset, what updates its primary identity's fragment
    (model/profile_records.py)."""

    org_id: str
    received_ms: int
    identity_map: dict[str, Any]
    dataset_id: str | None = None
    operations: Any = None
    """The message's ``header.operations`` (None: it has none)."""
    entity: dict[str, Any] = msgspec.field(default_factory=dict)
    """The message's ``body.xdmEntity``."""
    xaction_id: str = ""
    """Of the message (what an experience event kept for the person names it by)."""


def arrived_identities(
    message: IncomingMessage, loads: Callable[[bytes], Any] = json.loads
) -> ArrivedIdentities | None:
    """The message's identityMap, if it is valid and has a non-empty one (the payload is
    parsed only when it names an identityMap at all)."""
    if message.reasons is not None or b'"identityMap"' not in message.payload:
        return None
    return identities_in(
        message.org_id,
        message.received_ms,
        loads(message.payload),
        message.dataset_id,
        message.xaction_id,
    )


def identities_in(
    org_id: str, received_ms: int, document: Any, dataset_id: str | None, xaction_id: str = ""
) -> ArrivedIdentities | None:
    """A message's non-empty identityMap (of its ``body.xdmEntity``), if it has one."""
    entity = entity_of(document)
    found = entity.get("identityMap")
    if not isinstance(found, dict) or not found:
        return None
    header = document.get("header")
    operations = header.get("operations") if isinstance(header, dict) else None
    return ArrivedIdentities(org_id, received_ms, found, dataset_id, operations, entity, xaction_id)


class DueTimer(msgspec.Struct, frozen=True):
    timer_id: int
    instance_id: str
    due_ms: int
    token: int
    kind: str


class OutboxItem(msgspec.Struct, frozen=True):
    outbox_id: int
    instance_id: str
    node: str
    token: int
    kind: str
    request: dict[str, Any]
    key: str
    attempts: int
    next_ms: int = 0
    """When the next attempt may be made."""
    partition: int = 0


class NewTimer(msgspec.Struct, frozen=True):
    instance_id: str
    partition: int
    due_ms: int
    token: int
    kind: str


class NewAction(msgspec.Struct, frozen=True):
    """An action for the outbox; the store gives it its id (see ``OutboxItem``)."""

    instance_id: str
    partition: int
    node: str
    token: int
    kind: str
    request: dict[str, Any]
    key: str
    next_ms: int


class ActionSettled(msgspec.Struct, frozen=True):
    """The final outcome of an outbox item."""

    outbox_id: int
    ok: bool
    attempts: int
    error: str | None


class ActionRetry(msgspec.Struct, frozen=True):
    """An outbox item to try again at ``next_ms``."""

    outbox_id: int
    attempts: int
    next_ms: int
    error: str | None


class StepRecord(msgspec.Struct, frozen=True):
    """A step event: one activity of one instance ended, erred, timed out or exited."""

    org_id: str
    journey: str
    version: int
    node: str
    node_type: str
    instance_id: str
    identity: str
    status: str
    detail: str | None
    at_ms: int
    entered_ms: int
    seq: int = 0
    """Its place among the org's step events, once stored."""

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "journey": self.journey,
            "version": self.version,
            "node": self.node,
            "nodeType": self.node_type,
            "instanceId": self.instance_id,
            "identity": self.identity,
            "status": self.status,
            "detail": self.detail,
            "atMs": self.at_ms,
            "enteredMs": self.entered_ms,
        }


def end_step(
    inst: Instance,
    node_types: Mapping[str, str],
    status: str,
    at_ms: int,
    *,
    identity: str | None = None,
    detail: str | None = None,
) -> StepRecord:
    """The step event of ``inst`` ending with ``status`` outside the engine's steps (a
    privacy delete, a merge), at the activity it is at: the entry when it is at none, of
    type ``unknown`` when ``node_types`` (its version's activities) lacks it."""
    node = inst.node or "entry"
    kind = node_types.get(node, "entry" if inst.node is None else "unknown")
    return StepRecord(
        inst.org_id, inst.journey, inst.version, node, kind, inst.instance_id,
        inst.identity if identity is None else identity, status, detail, at_ms,
        inst.entered_ms,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class TestEntry:
    """A test profile entering a draft in test mode, queued for the engine that owns the
    person's partition."""

    org_id: str
    journey: str
    version: int
    identity: str
    partition: int
    entity: dict[str, Any]
    entry_id: int = 0
    """Given by the store."""

    __test__ = False  # not a test class, whatever pytest thinks of the name


@dataclass(frozen=True, slots=True)
class ForwardedEvent:
    """An event of one identity of a merged person for the person's instance kept under
    another identity, on a partition another engine may hold (model/merged_runs.py,
    ``woken``): queued in the commit of the engine that read the event, for the engine that
    holds ``partition`` to wake the instance with."""

    org_id: str
    instance_id: str
    partition: int
    event: str
    entity: dict[str, Any]
    forward_id: int = 0
    """Given by the store."""


@dataclass(frozen=True, slots=True)
class Discard:
    """A person the journey did not take, and why."""

    org_id: str
    journey: str
    identity: str | None
    cause: str
    at_ms: int


@dataclass
class EngineBatch:
    """Everything one cycle of a journey engine changes, committed in one transaction."""

    instances: list[Instance] = field(default_factory=list)
    """The latest state of each instance the cycle moved."""
    new_timers: list[NewTimer] = field(default_factory=list)
    fired_timers: list[int] = field(default_factory=list)
    clear_timers: list[str] = field(default_factory=list)
    """Instances whose timers all go (they have ended)."""
    new_actions: list[NewAction] = field(default_factory=list)
    settled: list[ActionSettled] = field(default_factory=list)
    retries: list[ActionRetry] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    discards: list[Discard] = field(default_factory=list)
    messages: list[IncomingMessage] = field(default_factory=list)
    """Accepted messages read from the event log that the store must keep (where the
    inlet's writer did not)."""
    positions: dict[int, int] = field(default_factory=dict)
    """The event log position each partition's reading has reached."""
    test_entries_done: list[int] = field(default_factory=list)
    forwards: list[ForwardedEvent] = field(default_factory=list)
    """Events for instances of the partitions of ``partition``'s engine, to queue."""
    forwards_done: list[int] = field(default_factory=list)
    """Forwarded events taken (the instance woken, or gone): no longer queued."""
    audience_entries_done: list[int] = field(default_factory=list)
    """Queued audience qualifications taken (model/audiences.py, ``AudienceEntry``)."""
    links: list[Arrival] = field(default_factory=list)
    """Identities of the messages read, to link in the identity graph in log order
    (model/identity_graph.py)."""
    audience_checks: list[AudienceCheck] = field(default_factory=list)
    """Persons whose audience memberships the events read may change, evaluated after the
    links (model/audiences.py, ``decide_memberships``)."""
    profile_updates: list[ProfileUpdate] = field(default_factory=list)
    """Profile records read (and profile updates the journeys made), to apply to their
    fragments in order (model/profile_fragments.py)."""
    person_events: list[PersonEvent] = field(default_factory=list)
    """Experience events of profile-enabled datasets read, to keep for their identities
    (model/person_events.py)."""
    person_events_per_identity: int = PER_IDENTITY
    """After keeping ``person_events``, each of their identities keeps its newest this
    many (PersonEventLimits.per_identity)."""
    owner: str | None = None
    """The engine committing, when it holds partitions by lease."""
    fences: dict[int, int] = field(default_factory=dict)
    """partition -> the epoch of ``owner``'s lease this batch was made under: the store
    refuses the whole batch if any of them has moved (store/ports.py, PartitionLeases)."""

    @property
    def empty(self) -> bool:
        return not (
            self.instances
            or self.new_timers
            or self.fired_timers
            or self.clear_timers
            or self.new_actions
            or self.settled
            or self.retries
            or self.steps
            or self.discards
            or self.messages
            or self.positions
            or self.test_entries_done
            or self.forwards
            or self.forwards_done
            or self.audience_entries_done
            or self.links
            or self.audience_checks
            or self.profile_updates
            or self.person_events
        )


@dataclass(frozen=True, slots=True)
class JourneyPeople:
    """A journey's instances (every version): how many have each status, and how many
    entered at a given time or later."""

    statuses: dict[str, int]
    entered_since: int


def people_counts(statuses: Mapping[str, int]) -> dict[str, int]:
    """A journey's people from its instances' counts by status: how many entered, are
    inside (running or waiting), left (finished or exited) and are in error."""
    return {
        "entered": sum(statuses.values()),
        "inJourney": statuses.get("running", 0) + statuses.get("waiting", 0),
        "exited": statuses.get("finished", 0) + statuses.get("exited", 0),
        "inError": statuses.get("error", 0),
    }
