"""The save-time check of ``#{profile.path}``: a path must be a field of one of the org's
Profile schemas (journeys and audiences alike)."""

from __future__ import annotations

import re

from wayfare.model.expressions import Ref
from wayfare.model.resources import Schema
from wayfare.model.schema_paths import field_schema
from wayfare.registry.schemas import SchemaRegistry

_INDEX = re.compile(r"\[\d+\]")


def profile_schemas(schemas: SchemaRegistry, org_id: str) -> list[Schema]:
    """The org's schemas of class Profile: the union profile paths are checked against."""
    return [s for s in schemas.all(org_id) if s.definition.xdm_class == "Profile"]


def unknown_profile_field(path: str, profile_schemas: list[Schema]) -> str | None:
    """Why the dotted ``path`` is no field of these Profile schemas, or None."""
    field = _INDEX.sub("", path)
    if any(not field or field_schema(s.json_schema, field) for s in profile_schemas):
        return None
    names = ", ".join(s.name for s in profile_schemas) or "none"
    return f"is a field of no Profile schema of the org (Profile schemas: {names})"


def unknown_profile_path(ref: Ref, profile_schemas: list[Schema]) -> str | None:
    """Why ``#{profile.path}`` names no field of these Profile schemas, or None."""
    why = unknown_profile_field(ref.dotted, profile_schemas)
    return None if why is None else f"#{{profile.{ref.dotted}}} (column {ref.column}) {why}"
