"""Event configurations, their payload preview and their matching outcomes."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from wayfare.wire.base import JSONObject, Wire

EVENT_NAME = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_]{1,30}$")]
IdType = Literal["system", "rule"]


class EventDefinition(Wire):
    name: EVENT_NAME
    schemaId: str
    """The schema's id, altId or name."""
    namespace: str
    """The identity namespace of the person the event is about (Email, ECID, ...)."""
    description: str | None = ""
    identifier: str | None = None
    """Where the identity is in the payload; default: the namespace in identityMap."""
    eventIdType: IdType | None = "system"
    condition: str | None = None
    """Rule-based events: the expression a message must meet."""
    fields: list[str] = msgspec.field(default_factory=list)
    """The payload fields journeys may read."""


class Event(Wire):
    name: str
    description: str
    schemaId: str
    namespace: str
    identifier: str
    eventIdType: IdType
    eventID: str | None
    """System-generated events: the id messages carry."""
    condition: str | None
    fields: list[str]
    imsOrg: str
    createdMs: int


class EventList(Wire):
    events: list[Event]


class PreviewQuery(Wire):
    snippets: bool = False
    """Wrap the message with a curl command and a Python snippet."""


class PreviewSnippets(Wire):
    payload: JSONObject
    inletUrl: str
    curl: str
    python: str


class MessagesQuery(Wire):
    limit: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 20


class MatchOutcome(Wire):
    seq: int
    """The message's record's seq (its place among the dataset's records)."""
    xactionId: str
    receivedTimeMs: int
    event: str
    matched: bool
    identity: str | None
    cause: str | None
    """Why it did not match, as a code."""
    reason: str | None
    """The same, in words."""


class EventMessages(Wire):
    event: str
    messages: list[MatchOutcome]
    """Newest first."""
