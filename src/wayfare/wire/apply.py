"""Configuration as code: documents applied idempotently, in dependency order."""

from __future__ import annotations

from typing import Literal

import msgspec

from wayfare.wire.base import Wire

Kind = Literal[
    "Org", "Namespace", "Schema", "Dataset", "MergePolicy", "Inlet", "Event", "Audience", "Journey"
]
"""What a document defines; applied in this order, whatever the order given."""


class Document(Wire):
    """One definition: ``kind`` and, beside it, the fields of that resource as its own
    route takes them (an Org: ``tenantId``; a Namespace: ``code``, ``name``, ``unique``; a
    Journey may add ``state: live``)."""

    kind: Kind


class ApplyRequest(Wire):
    documents: list[Document]


ApplyBody = ApplyRequest | list[Document]
"""``{"documents": [...]}``, or the list of documents alone."""


class Applied(Wire):
    kind: str
    name: str
    action: Literal["created", "updated", "unchanged"]
    id: str
    version: int | msgspec.UnsetType = msgspec.UNSET
    """Schemas and journeys: the version it made or left."""
    state: str | msgspec.UnsetType = msgspec.UNSET
    """Journeys: the state of that version."""
    eventID: str | msgspec.UnsetType | None = msgspec.UNSET
    inletId: str | msgspec.UnsetType = msgspec.UNSET
    accessToken: str | msgspec.UnsetType = msgspec.UNSET
    """A created authenticated inlet: its first token."""


class AppliedList(Wire):
    applied: list[Applied]
