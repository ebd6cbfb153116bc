"""XDM schemas: a definition in, every version out."""

from __future__ import annotations

from typing import Literal

import msgspec

from wayfare.wire.base import NAME, JSONObject, Wire

XdmClass = Literal["ExperienceEvent", "Profile"]


class SchemaDefinition(Wire):
    """What a schema is made from; the server builds its full JSON Schema."""

    name: NAME
    xdm_class: XdmClass = msgspec.field(name="class")
    title: str | None = None
    """Default: the name."""
    description: str | None = ""
    fieldGroups: list[str] = msgspec.field(default_factory=list)
    """Names of Adobe field groups (``wayfare schemas field-groups`` lists them)."""
    fields: dict[str, JSONObject] = msgspec.field(default_factory=dict)
    """Root fields under the tenant object, each a JSON Schema."""
    required: list[str] = msgspec.field(default_factory=list)


class Schema(Wire):
    """One version of a schema."""

    id: str
    altId: str
    name: str
    title: str
    description: str
    xdm_class: XdmClass = msgspec.field(name="class")
    fieldGroups: list[str]
    version: int
    contentType: str
    imsOrg: str
    createdMs: int
    definition: SchemaDefinition
    jsonSchema: JSONObject


class SchemaList(Wire):
    schemas: list[Schema]
    """The latest version of each."""


class SchemaVersions(Wire):
    versions: list[Schema]
