"""Journeys: definitions, versions and their life cycle, test mode, reports and steps."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from wayfare.wire.base import NAME, JSONObject, Wire

JourneyState = Literal["draft", "live", "closed", "stopped", "finished"]
StepStatus = Literal["ended", "error", "timedout", "exited", "deleted", "merged"]
STEP_STATUSES: tuple[StepStatus, ...] = (
    "ended",
    "error",
    "timedout",
    "exited",
    "deleted",
    "merged",
)


class JourneyEntry(Wire):
    """What brings people in: an event, or a change of their membership of an audience."""

    next: str
    """The first activity."""
    event: str | msgspec.UnsetType = msgspec.UNSET
    """The event that brings people in."""
    audience: str | msgspec.UnsetType = msgspec.UNSET
    """Instead of an event: the audience whose members' changes bring people in."""
    on: Literal["entered", "exited"] | msgspec.UnsetType = msgspec.UNSET
    """With ``audience``: people enter when they enter it (the default) or exit it."""
    namespace: str | msgspec.UnsetType = msgspec.UNSET
    """With ``audience``: the namespace of the identity the instance carries (default: the
    identity whose event or record changed the membership)."""


class Reentrance(Wire):
    allowed: bool = False
    waitSeconds: float | str | msgspec.UnsetType = msgspec.UNSET
    """How long after leaving a person may enter again (seconds, or a duration)."""


class JourneyDefinition(Wire):
    """A journey's graph; saving it makes (or changes) the draft version."""

    name: NAME
    entry: JourneyEntry
    activities: Annotated[dict[str, JSONObject], msgspec.Meta(min_length=1, max_length=50)]
    """Activity id → activity (``type``: wait, condition, split, timeCondition,
    dateCondition, waitForEvent, http, email, log, jump, updateProfile, end; its fields;
    ``next``)."""
    description: str | None = ""
    timeZone: str | None = "UTC"
    reentrance: Reentrance | msgspec.UnsetType = msgspec.UNSET


class Journey(Wire):
    """One version of a journey."""

    name: str
    version: int
    state: JourneyState
    paused: str | None
    """Why the engine paused it (its steps kept failing); it takes no one in until resumed."""
    testMode: bool
    entryEvent: str
    """The entry event; ``audience:NAME:entered`` (or ``exited``) for a journey starting on
    audience qualification."""
    imsOrg: str
    createdMs: int
    changedMs: int
    definition: JSONObject


class JourneyList(Wire):
    journeys: list[Journey]


class JourneyVersions(Wire):
    versions: list[Journey]


class VersionQuery(Wire):
    version: Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)] | None = None
    """Default: the latest."""


class Stopped(Wire):
    journey: str
    state: Literal["stopped"]
    exited: int
    """People the engines made exit before the answer."""
    exiting: int
    """People still exiting when the answer was sent."""


class TestModeChange(Wire):
    enabled: bool = True


class TestEvent(Wire):
    identity: Annotated[str, msgspec.Meta(min_length=1)]
    payload: JSONObject | None = None
    """The event's xdmEntity; default: a sample made from the entry event."""


class TestEventTaken(Wire):
    journey: str
    version: int
    identity: str
    entity: JSONObject
    taken: bool
    """Whether an engine took the event before the answer."""


class TestProfile(Wire):
    identity: Annotated[str, msgspec.Meta(min_length=1)]
    namespace: str | None = None
    """The identity's namespace, when given: the id is kept normalised as its ids are (an
    Email id lower-cased and trimmed, a Phone id in E.164), as journeys name people."""


class TestProfileAdded(Wire):
    identity: str
    test: bool


class PausedVersion(Wire):
    version: int
    reason: str


class NodeCounts(Wire):
    """One activity of a report: its type and how many steps ended each way (a way no step
    ended is left out)."""

    type: str
    ended: int | msgspec.UnsetType = msgspec.UNSET
    error: int | msgspec.UnsetType = msgspec.UNSET
    timedout: int | msgspec.UnsetType = msgspec.UNSET
    """Waited for an event or an answer until its timeout."""
    exited: int | msgspec.UnsetType = msgspec.UNSET
    """Made to exit there (the journey was stopped)."""
    deleted: int | msgspec.UnsetType = msgspec.UNSET
    """Ended there by a privacy delete of the person."""
    merged: int | msgspec.UnsetType = msgspec.UNSET
    """Ended there because the person merged with another already in the journey (the
    older instance stays)."""

    def count(self, status: StepStatus) -> int:
        """Steps that ended with ``status``; 0 when none did."""
        value: int | msgspec.UnsetType = getattr(self, status)
        return 0 if isinstance(value, msgspec.UnsetType) else value


class JourneyReport(Wire):
    journey: str
    state: JourneyState
    version: int
    entered: int
    inJourney: int
    exited: int
    inError: int
    discarded: int
    discardsByCause: dict[str, int]
    nodes: dict[str, NodeCounts]
    """Activity id → its type and a count per step status, in the order of the graph from
    its entry."""
    paused: list[PausedVersion]


class StepsQuery(Wire):
    limit: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 50
    identity: str | None = None
    """Only the steps of this person (an identity as the journey's entry event gives it)."""


class StepEvent(Wire):
    seq: int
    journey: str
    version: int
    node: str
    nodeType: str
    instanceId: str
    identity: str
    status: str
    detail: str | None
    atMs: int
    enteredMs: int


class JourneySteps(Wire):
    steps: list[StepEvent]
    """Newest first."""
