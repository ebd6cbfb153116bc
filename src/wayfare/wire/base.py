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


class Problem(Wire):
    """An error, as Adobe's gateway writes it (``application/problem+json``)."""

    type: str
    status: int
    title: str
    detail: str
    report: JSONObject = msgspec.field(default_factory=dict)
    """``{"message": ...}``, or Adobe's validation report with every violation."""


class Deleted(Wire):
    deleted: str
    """The id or name of what was deleted."""
