"""Profiles: the org's merge policy."""

from __future__ import annotations

from typing import Literal

import msgspec

from wayfare.wire.base import Wire


class AttributeMerge(Wire):
    type: Literal["timestampOrdered", "dataSetPrecedence"]
    """timestampOrdered: the most recently updated value of each attribute wins;
    dataSetPrecedence: the value of the dataset listed first wins."""
    order: list[str] | msgspec.UnsetType = msgspec.UNSET
    """dataSetPrecedence: dataset ids (or names, when set), first winning."""


class MergePolicy(Wire):
    attributeMerge: AttributeMerge
