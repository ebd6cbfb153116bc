"""Datasets and their records."""

from __future__ import annotations

from typing import Annotated

import msgspec

from wayfare.wire.base import MAX_INT, JSONObject, Wire
from wayfare.wire.collection import SchemaRef

MAX_RETENTION_DAYS = 36_500
"""A hundred years."""


class DatasetSpec(Wire):
    name: str
    """Any text; unique in the org."""
    schemaId: str
    """The schema's id, altId or name."""
    retentionDays: Annotated[int, msgspec.Meta(ge=1, le=MAX_RETENTION_DAYS)] | None = None
    """Records (and failed records) older than this many days are deleted; none: kept."""
    profile: bool = False
    """Enabled for Profile: the Profile records it receives update profile attributes."""


class DatasetChange(Wire):
    """At least one of the two."""

    retentionDays: (
        Annotated[int, msgspec.Meta(ge=1, le=MAX_RETENTION_DAYS)] | msgspec.UnsetType | None
    ) = msgspec.UNSET
    """Days records are kept; null keeps them for good."""
    profile: bool | msgspec.UnsetType = msgspec.UNSET
    """true enables the dataset for Profile; once enabled it cannot be disabled."""


class Dataset(Wire):
    id: str
    name: str
    default: bool
    imsOrg: str
    schemaRef: SchemaRef | msgspec.UnsetType = msgspec.UNSET
    """Absent from the system dataset of journey step events."""
    createdMs: int | msgspec.UnsetType = msgspec.UNSET
    system: bool | msgspec.UnsetType = msgspec.UNSET
    """True for the journey step events dataset."""
    recordCount: int | msgspec.UnsetType = msgspec.UNSET
    """Given when one dataset is asked for."""
    retentionDays: int | msgspec.UnsetType = msgspec.UNSET
    """Days its records are kept, when it has a limit."""
    profile: bool | msgspec.UnsetType = msgspec.UNSET
    """true when enabled for Profile."""


class DatasetList(Wire):
    datasets: list[Dataset]


class DatasetQuery(Wire):
    schema: str | None = None
    """Only the datasets of this schema (id, altId or name)."""


class RecordsQuery(Wire):
    limit: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 20
    after: Annotated[int, msgspec.Meta(ge=0, le=MAX_INT)] | None = None
    """Only records after this seq. A page never passes a record still being committed (it
    may be short meanwhile), so asking again after its ``lastSeq`` misses none."""


class DatasetRecords(Wire):
    datasetId: str
    records: list[JSONObject]
    """Oldest first: stored messages (seq, xactionId, msgId, receivedTimeMs, imsOrgId,
    inletId, datasetId, schemaId, message), or step events in ``journeyStepEvents``."""
    lastSeq: int | None = None
    """The seq of the last record, to ask for the ones after it (``?after=``); null when
    there are none."""
