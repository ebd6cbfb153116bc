"""Failed records: messages stored with the reasons they failed validation."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from wayfare.wire.base import ViolationEntry, Wire


class FailuresQuery(Wire):
    inletId: str | None = None
    """Only this inlet (id or name)."""
    inlet: str | None = None
    """Older name of inletId."""
    since: str | None = None
    """From this time: milliseconds since the epoch or an ISO 8601 date-time."""
    until: str | None = None
    """Before this time, as ``since``."""
    limit: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 100


class Failure(Wire):
    seq: int
    xactionId: str
    msgId: str | None
    receivedTimeMs: int
    imsOrgId: str
    inletId: str
    datasetId: str | None
    schemaId: str | None
    reasons: list[ViolationEntry]
    """Every rule the message broke."""
    message: Any


class FailureList(Wire):
    failures: list[Failure]
    """Newest first."""
