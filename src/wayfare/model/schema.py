"""XDM-style schemas: a class, field groups, built-in fields and tenant fields.

A definition is what a user writes; ``build_json_schema`` turns it into the full JSON Schema
(the "xed-full" view) that messages are validated against.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wayfare.model.field_groups import find_field_group
from wayfare.model.rules import Checker, require_object

XDM_CLASSES: dict[str, str] = {
    "ExperienceEvent": "https://ns.adobe.com/xdm/context/experienceevent",
    "Profile": "https://ns.adobe.com/xdm/context/profile",
}
_CLASS_ALIASES = {uri: name for name, uri in XDM_CLASSES.items()} | {
    name.lower(): name for name in XDM_CLASSES
}

CONTENT_TYPE = "application/vnd.adobe.xed-full+json"
TENANT_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

IDENTITY_MAP: dict[str, Any] = {
    "type": "object",
    "title": "Identity map",
    "description": "Namespace code to the list of identities of the person in that namespace.",
    "additionalProperties": {
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": {"type": "string", "minLength": 1},
                "primary": {"type": "boolean"},
                "authenticatedState": {
                    "type": "string",
                    "enum": ["ambiguous", "authenticated", "loggedOut"],
                },
            },
        },
    },
}


def content_type(version: int) -> str:
    return f"{CONTENT_TYPE};version={version}"


@dataclass(frozen=True, slots=True)
class SchemaDefinition:
    """What a user writes to create or change a schema."""

    name: str
    title: str
    xdm_class: str
    field_groups: tuple[str, ...] = ()
    fields: Mapping[str, Any] = field(default_factory=dict)
    """JSON Schema properties of the tenant object ``_<tenantId>``."""
    required: tuple[str, ...] = ()
    """Root fields a message must carry, on top of the class's own."""
    description: str = ""

    @classmethod
    def from_json(cls, data: object) -> SchemaDefinition:
        obj = require_object(data, "schema")
        check = Checker("schema")
        name = check.name(obj)
        title = check.string(obj, "title", default=name) or name
        description = check.string(obj, "description")
        raw_class = check.string(obj, "class", required=True)
        xdm_class = _CLASS_ALIASES.get(raw_class) or _CLASS_ALIASES.get(raw_class.lower(), "")
        if isinstance(obj.get("class"), str) and not xdm_class:
            check.fail("/class", "enum", f"class must be one of {', '.join(XDM_CLASSES)}")
        groups: list[str] = []
        raw_groups = obj.get("fieldGroups", [])
        if not isinstance(raw_groups, list):
            check.fail("/fieldGroups", "type", "fieldGroups must be a list")
            raw_groups = []
        for i, key in enumerate(raw_groups):
            group = find_field_group(key) if isinstance(key, str) else None
            if group is None:
                check.fail(f"/fieldGroups/{i}", "enum", f"unknown field group {key!r}")
            elif xdm_class and xdm_class not in group.classes:
                check.fail(
                    f"/fieldGroups/{i}",
                    "enum",
                    f"field group {group.title!r} does not apply to class {xdm_class}",
                )
            elif group.id not in groups:
                groups.append(group.id)
        fields_ = obj.get("fields", {})
        if not isinstance(fields_, Mapping):
            check.fail("/fields", "type", "fields must be an object of JSON Schema properties")
            fields_ = {}
        for key, sub in fields_.items():
            if not isinstance(sub, Mapping):
                check.fail(f"/fields/{key}", "type", "each field must be a JSON Schema object")
        required = obj.get("required", [])
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            check.fail("/required", "type", "required must be a list of root field names")
            required = []
        check.done()
        return cls(
            name=name,
            title=title,
            xdm_class=xdm_class,
            field_groups=tuple(groups),
            fields=dict(fields_),
            required=tuple(required),
            description=description,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "class": self.xdm_class,
            "fieldGroups": list(self.field_groups),
            "fields": dict(self.fields),
            "required": list(self.required),
        }


def build_json_schema(
    definition: SchemaDefinition, *, schema_id: str, tenant_id: str, version: int
) -> dict[str, Any]:
    """The full JSON Schema of one version of a schema."""
    properties: dict[str, Any] = {
        "_id": {"type": "string", "minLength": 1, "title": "Identifier"},
        "identityMap": IDENTITY_MAP,
    }
    required: list[str] = []
    if definition.xdm_class == "ExperienceEvent":
        properties["timestamp"] = {"type": "string", "format": "date-time", "title": "Timestamp"}
        properties["eventType"] = {"type": "string", "title": "Event type"}
        required += ["_id", "timestamp"]
    for group_id in definition.field_groups:
        group = find_field_group(group_id)
        if group is not None:
            _merge(properties, group.properties)
    if definition.fields:
        properties[f"_{tenant_id}"] = {
            "type": "object",
            "title": f"Tenant fields of {tenant_id}",
            "properties": dict(definition.fields),
        }
    for name in definition.required:
        if name not in required:
            required.append(name)
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": schema_id,
        "title": definition.title,
        "description": definition.description,
        "type": "object",
        "meta:class": XDM_CLASSES[definition.xdm_class],
        "meta:extends": [XDM_CLASSES[definition.xdm_class], *definition.field_groups],
        "version": str(version),
        "properties": properties,
        "required": required,
    }


def _merge(into: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        existing = into.get(key)
        if (
            isinstance(existing, dict)
            and isinstance(value, Mapping)
            and isinstance(existing.get("properties"), dict)
            and isinstance(value.get("properties"), Mapping)
        ):
            merged = dict(existing)
            merged["properties"] = dict(existing["properties"])
            _merge(merged["properties"], value["properties"])
            into[key] = merged
        else:
            into[key] = value


def tenant_from_org(org_id: str) -> str:
    """A tenant id derived from an org id: ``ACME@AdobeOrg`` gives ``acme``."""
    base = re.sub(r"[^a-z0-9_]", "_", org_id.split("@", 1)[0].lower()).strip("_")
    if not base or not base[0].isalpha():
        base = "t" + base
    return base[:64]
