"""Journey instances and what moves them: triggers in, commands out."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from wayfare.model.profile_records import ProfileUpdate

Status = Literal["running", "waiting", "finished", "error", "exited", "deleted", "merged"]
"""``deleted``: a privacy delete ended the instance (model/privacy.py); ``merged``: its
person merged with another already in the journey (model/merged_runs.py)."""
FINAL: frozenset[str] = frozenset({"deleted", "merged"})
"""Ends that stores keep whatever an engine commits later for the instance."""
LIVE: frozenset[str] = frozenset({"running", "waiting"})


@dataclass
class Instance:
    """One person's way through one version of a journey. Plain data: stored as JSON."""

    instance_id: str
    org_id: str
    journey: str
    version: int
    identity: str
    seed: int
    entered_ms: int
    status: Status = "running"
    node: str | None = None
    events: dict[str, Any] = field(default_factory=dict)
    actions: dict[str, Any] = field(default_factory=dict)
    wait_kind: str | None = None  # timer | event | action
    wait_token: int = 0
    steps: int = 0
    test: bool = False
    ended_ms: int | None = None
    partition: int = 0
    """Of the event log (model/partitions.py): the engine owning it moves this instance."""
    chain: int = 0
    """Entered by an audience change journeys made: how many such changes in a row led to
    it (model/admission.py, MAX_CHAIN), carried on by its updateProfile and its jump."""

    @property
    def live(self) -> bool:
        return self.status in LIVE

    def copy(self) -> Instance:
        # By hand: dataclasses.replace re-reads the fields and re-runs __init__ per step.
        new = object.__new__(Instance)
        new.__dict__.update(self.__dict__)
        new.events = dict(self.events)
        new.actions = dict(self.actions)
        return new

    def as_json(self) -> dict[str, Any]:
        # By hand: dataclasses.asdict deep-copies every payload, and this runs per step.
        return {f: getattr(self, f) for f in _FIELDS}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Instance:
        return cls(**data)


_FIELDS = tuple(f.name for f in dataclasses.fields(Instance))

Place = tuple[str, str, str]
"""(org, journey, activity): where live instances are."""


def waiting_moves(
    before: Mapping[str, tuple[str, str | None]], after: Iterable[Instance]
) -> dict[Place, int]:
    """How many more (or fewer) live instances each place holds once the states ``after``
    (the last of an id given twice wins) replace those a store holds, ``before``: instance
    id -> its status and activity there (an id absent is new). A store keeps a FINAL end
    whatever comes after it, so such an instance moves nothing. Places left unchanged are
    left out."""
    moves: dict[Place, int] = {}
    for inst in {i.instance_id: i for i in after}.values():
        status, node = before.get(inst.instance_id, (None, None))
        if status in FINAL:
            continue
        if status in LIVE and node is not None:
            place = (inst.org_id, inst.journey, node)
            moves[place] = moves.get(place, 0) - 1
        if inst.live and inst.node is not None:
            place = (inst.org_id, inst.journey, inst.node)
            moves[place] = moves.get(place, 0) + 1
    return {place: n for place, n in moves.items() if n}


# triggers
class Enter(msgspec.Struct, frozen=True):
    event: str
    entity: dict[str, Any]


class TimerFired(msgspec.Struct, frozen=True):
    token: int
    kind: str  # wait | timeout | global


class EventArrived(msgspec.Struct, frozen=True):
    event: str
    entity: dict[str, Any]


class ActionDone(msgspec.Struct, frozen=True):
    node: str
    token: int
    ok: bool
    response: Any = None
    error: str | None = None
    timed_out: bool = False


class Stop(msgspec.Struct, frozen=True):
    reason: str = "journey stopped"


Trigger = Enter | TimerFired | EventArrived | ActionDone | Stop


# commands
class ScheduleTimer(msgspec.Struct, frozen=True):
    due_ms: int
    token: int
    kind: str


class Dispatch(msgspec.Struct, frozen=True):
    node: str
    token: int
    kind: str  # http | email
    request: dict[str, Any]
    key: str
    """Idempotency key: ``<instance>:<node>``."""


class StepEvent(msgspec.Struct, frozen=True):
    node: str
    node_type: str
    status: str  # ended | error | timedout | exited
    at_ms: int
    detail: str | None = None


class LogLine(msgspec.Struct, frozen=True):
    node: str
    message: str


class JumpTo(msgspec.Struct, frozen=True):
    journey: str
    entity: dict[str, Any]


class UpdateProfile(msgspec.Struct, frozen=True):
    """A profile record an updateProfile activity wrote, applied in the step's commit."""

    node: str
    update: ProfileUpdate


Command = ScheduleTimer | Dispatch | StepEvent | LogLine | JumpTo | UpdateProfile
