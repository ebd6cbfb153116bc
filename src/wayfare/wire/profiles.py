"""People: identity namespaces, the person of an identity (its identities, attributes,
journeys, recent experience events and audiences), and the org's merge policy."""

from __future__ import annotations

from typing import Literal

import msgspec

from wayfare.wire.audiences import Membership
from wayfare.wire.base import JSONObject, Wire
from wayfare.wire.journeys import StepEvent


class AttributeMerge(Wire):
    type: Literal["timestampOrdered", "dataSetPrecedence"]
    """timestampOrdered: the most recently updated value of each attribute wins;
    dataSetPrecedence: the value of the dataset listed first wins."""
    order: list[str] | msgspec.UnsetType = msgspec.UNSET
    """dataSetPrecedence: dataset ids (or names, when set), first winning."""


class MergePolicy(Wire):
    attributeMerge: AttributeMerge


class NamespaceSpec(Wire):
    code: str
    """The identity symbol, as messages name it in ``identityMap``: a letter, then letters,
    digits or ``_`` (at most 50); not a built-in one's."""
    name: str = ""
    """For people; the code when left out."""
    unique: bool = False
    """At most one identity of this namespace per person (graph-collapse protection): when
    another would join a person, the newest link wins."""


class Namespace(Wire):
    code: str
    name: str
    unique: bool
    builtIn: bool


class NamespaceList(Wire):
    namespaces: list[Namespace]
    """The built-in namespaces (Email, Phone, ECID, CRMID), then the org's own."""


class ProfileQuery(Wire):
    namespace: str
    """Any namespace of one of the person's identities (``Email``)."""
    id: str
    """The identity's id, normalised as its namespace's are (Email: lower-cased; Phone:
    E.164)."""


class LinkedIdentity(Wire):
    namespace: str
    id: str
    linkedMs: int
    """When the identity was linked to the person (the time its message was received)."""


class DroppedLink(Wire):
    namespace: str
    id: str
    cause: str
    """``limit`` (the person held 50 identities: the oldest link went) or ``unique`` (a
    newer identity of a unique namespace won)."""


class IdentityRef(Wire):
    namespace: str
    id: str


class AttributeSource(Wire):
    """Where one merged attribute came from."""

    path: str
    """The attribute, dotted (``person.name.firstName``)."""
    datasetId: str
    datasetName: str | None
    """None once the dataset is gone."""
    identity: IdentityRef
    """The identity whose fragment held it."""
    timeMs: int
    """When the value was written (the record's time, or its lastUpdatedDate)."""


class PersonJourney(Wire):
    """One instance of a journey of the person."""

    journey: str
    version: int
    instanceId: str
    identity: str
    """The id its entry event named."""
    status: Literal["running", "waiting", "finished", "error", "exited", "deleted", "merged"]
    """``merged``: ended when its person merged with one already in the journey."""
    node: str | None
    """The activity it is at (live) or where it ended."""
    enteredMs: int
    endedMs: int | None
    test: bool
    steps: list[StepEvent]
    """Its step events, oldest first (of the person's 500 newest)."""


class PersonEvent(Wire):
    """An experience event of a profile-enabled dataset, kept for the person."""

    timeMs: int
    """When it happened: its ``timestamp``, else when it was received."""
    receivedMs: int
    datasetId: str
    datasetName: str | None
    """None once the dataset is gone."""
    xactionId: str
    """The record's, in its dataset (while the dataset keeps it)."""
    identity: IdentityRef
    """The identity it is kept under: its primary one, else the first of its identityMap."""
    eventType: str | None
    """Its XDM ``eventType``, when it has one."""
    events: list[str]
    """The org's events it matched, by name."""


class Profile(Wire):
    """A person of the identity graph: identities, merged attributes with their sources,
    journeys, recent experience events and audiences."""

    personId: str
    """Stable: a person merged into another is found by either id's identities, under the
    surviving (first created) person's id."""
    createdMs: int
    identities: list[LinkedIdentity]
    """By namespace, then id."""
    droppedLinks: list[DroppedLink] = msgspec.field(default_factory=list)
    """Links the guardrails dropped from this person, newest first (at most 100)."""
    attributes: JSONObject = msgspec.field(default_factory=dict)
    """The merged profile, by the org's merge policy (``GET /api/v1/merge-policy``)."""
    sources: list[AttributeSource] = msgspec.field(default_factory=list)
    """Where each attribute (leaf) of ``attributes`` came from, by path."""
    journeys: list[PersonJourney] = msgspec.field(default_factory=list)
    """The person's instances, newest entered first (at most 50): current ones at their
    activity, past ones with their steps and times."""
    events: list[PersonEvent] = msgspec.field(default_factory=list)
    """The experience events of profile-enabled datasets kept for the person's identities,
    newest first (at most 100; kept ``person_event_retention_days``)."""
    audiences: list[Membership] = msgspec.field(default_factory=list)
    """The person's audiences, current (``exitedMs`` null) and past, by audience name."""


class ProfileDeleted(Wire):
    """What a privacy delete removed (all 0 when nothing was left of the person)."""

    personId: str | None
    """The person deleted; null when no person had the identity (its traces went all
    the same)."""
    identities: int
    """Identities the person had, each unlinked."""
    instancesEnded: int
    """Live journey instances ended with status ``deleted`` (a step event each)."""
    instancesErased: int
    """Journey instances (live or ended) whose identity and kept events went."""
    stepEventsErased: int
    """Step events whose identity and detail went (reports keep counting them)."""
    profileFragments: int
    """Profile fragments deleted: one per identity and profile-enabled dataset."""
    records: int
    """Dataset records deleted: those whose identityMap names one of the identities."""
    failedRecords: int
    """Failed records (``wayfare failures``) deleted: those whose identityMap names one of
    the identities."""
    experienceEvents: int
    """Experience events kept for the person's identities (their profile's ``events``),
    deleted."""
    audienceMemberships: int
    """The person's audience memberships (current and past) deleted."""
    countedEvents: int
    """Events kept for the person's identities for audiences to count, deleted."""
