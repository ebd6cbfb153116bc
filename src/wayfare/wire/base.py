"""What every wire model shares: the Struct base, names and limits the server enforces."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

NAME = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]
"""A resource name (schema, inlet, journey, dataset)."""

MAX_INT = 2**63 - 1
"""The largest integer the stores hold."""

JSONObject = dict[str, Any]


class Wire(msgspec.Struct, kw_only=True):
    """A wire shape: fields by keyword; fields left UNSET are left out of the JSON."""


class ViolationEntry(Wire):
    """One broken rule of a message or a request."""

    pointerToViolation: str
    """Where: a JSON pointer (``#/person/age``); ``?name`` for a query parameter."""
    keyword: str
    """Which rule (``required``, ``type``, ``format``, ...)."""
    message: str
    schemaLocation: str = "#"


class StreamingValidation(Wire):
    causingExceptions: list[ViolationEntry]
    """Every violation."""
    schemaLocation: str = "#"
    pointerToViolation: str = "#"
    keyword: str = ""
    message: str = ""
    """How many violations were found, in words."""


class ReportCause(Wire):
    streamingValidation: list[StreamingValidation] = msgspec.field(
        name="_streamingValidation", default_factory=list
    )


class Report(Wire):
    """Adobe's report: the message, and with a validation error, every violation."""

    message: str
    cause: ReportCause | msgspec.UnsetType = msgspec.UNSET

    @property
    def violations(self) -> list[ViolationEntry]:
        """Every violation the report lists (none when it is only a message)."""
        if isinstance(self.cause, msgspec.UnsetType):
            return []
        return [v for check in self.cause.streamingValidation for v in check.causingExceptions]


class Problem(Wire):
    """An error, as Adobe's gateway writes it (``application/problem+json``)."""

    type: str
    status: int
    title: str
    detail: str
    report: Report | msgspec.UnsetType = msgspec.UNSET
    """``{"message": ...}``, or Adobe's validation report with every violation."""


class Deleted(Wire):
    deleted: str
    """The id or name of what was deleted."""
