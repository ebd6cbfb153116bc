"""What the journey runtime reads and writes: versions, due timers, outbox items, batches."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from wayfare.model.events import Unmatched
from wayfare.model.nesting import nesting_bound
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

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "state": self.state,
            "testMode": self.test_mode,
            "entryEvent": self.entry_event,
            "imsOrg": self.org_id,
            "createdMs": self.created_ms,
            "changedMs": self.changed_ms,
            "definition": self.definition,
        }


@dataclass(frozen=True, slots=True)
class MatchedMessage:
    seq: int
    org_id: str
    event: str
    identity: str | None
    entity: dict[str, Any]
    cause: Unmatched | None = None
    """Set when the message is the event but its person could not be told."""
    nesting_bound: int | None = None
    """At least how deeply ``entity`` nests (model/nesting.py), when known without a walk."""


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
    document = loads(message.payload)
    body = document.get("body") if isinstance(document, dict) else None
    entity = body.get("xdmEntity") if isinstance(body, dict) else None
    if not isinstance(entity, dict):
        entity = {}
    bound = nesting_bound(message.payload)
    return [
        MatchedMessage(position, message.org_id, m.event_name, m.identity, entity, m.cause, bound)
        for m in counted
    ]


@dataclass(frozen=True, slots=True)
class DueTimer:
    timer_id: int
    instance_id: str
    due_ms: int
    token: int
    kind: str


@dataclass(frozen=True, slots=True)
class OutboxItem:
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


InstanceRow = tuple[str, str, str, int, str, str, int, int | None, str]
"""instance_id, org_id, journey, version, identity, status, entered_ms, ended_ms, and state:
the instance as JSON text."""


@dataclass
class EngineBatch:
    """Everything one engine step changes, committed in one transaction."""

    instances: list[InstanceRow] = field(default_factory=list)
    """The latest state of each instance the step moved."""
    new_timers: list[tuple[str, int, int, str]] = field(default_factory=list)
    fired_timers: list[int] = field(default_factory=list)
    clear_timers: list[str] = field(default_factory=list)
    new_outbox: list[tuple[str, str, int, str, dict[str, Any], str, int]] = field(
        default_factory=list
    )
    outbox_done: list[tuple[int, str, int, str | None]] = field(default_factory=list)
    """(outbox id, state done|failed, attempts, last error)"""
    outbox_retry: list[tuple[int, int, int, str | None]] = field(default_factory=list)
    """(outbox id, attempts, next_ms, last error)"""
    steps: list[tuple[Any, ...]] = field(default_factory=list)
    discards: list[tuple[str, str, str | None, str, int]] = field(default_factory=list)
    cursor: tuple[str, int] | None = None

    @property
    def empty(self) -> bool:
        return not (
            self.instances
            or self.new_timers
            or self.fired_timers
            or self.clear_timers
            or self.new_outbox
            or self.outbox_done
            or self.outbox_retry
            or self.steps
            or self.discards
            or self.cursor
        )
