"""Field groups that can be added to a schema, keyed by id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldGroup:
    id: str
    title: str
    classes: frozenset[str]
    properties: dict[str, Any]
    """JSON Schema properties merged into the schema's root object."""


ORCHESTRATION_EVENT_ID = FieldGroup(
    id="orchestration-eventid",
    title="Orchestration eventID",
    classes=frozenset({"ExperienceEvent"}),
    properties={
        "_experience": {
            "type": "object",
            "properties": {
                "campaign": {
                    "type": "object",
                    "properties": {
                        "orchestration": {
                            "type": "object",
                            "properties": {
                                "eventID": {
                                    "type": "string",
                                    "title": "Orchestration eventID",
                                    "description": "Identifies the journey event this message "
                                    "triggers (system-generated event ids).",
                                }
                            },
                        }
                    },
                }
            },
        }
    },
)

ENVIRONMENT_DETAILS = FieldGroup(
    id="environment-details",
    title="Environment Details",
    classes=frozenset({"ExperienceEvent"}),
    properties={
        "environment": {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": ["browser", "application", "iot", "external"]},
                "browserDetails": {
                    "type": "object",
                    "properties": {"userAgent": {"type": "string"}},
                },
                "ipV4": {"type": "string", "format": "ipv4"},
            },
        }
    },
)

EXTERNAL_SOURCE_SYSTEM_AUDIT = FieldGroup(
    id="external-source-system-audit",
    title="External Source System Audit Attributes",
    classes=frozenset({"Profile"}),
    properties={
        "extSourceSystemAudit": {
            "type": "object",
            "description": "When and by whom the source system created and last updated the "
            "record: lastUpdatedDate orders a Profile record's update (docs/profiles.md).",
            "properties": {
                "createdBy": {"type": "string"},
                "createdDate": {"type": "string", "format": "date-time"},
                "lastUpdatedBy": {"type": "string"},
                "lastUpdatedDate": {"type": "string", "format": "date-time"},
            },
        }
    },
)

FIELD_GROUPS: dict[str, FieldGroup] = {
    group.id: group
    for group in (ORCHESTRATION_EVENT_ID, ENVIRONMENT_DETAILS, EXTERNAL_SOURCE_SYSTEM_AUDIT)
}

# Titles are accepted too, so "Orchestration eventID" works as well as its id.
FIELD_GROUPS_BY_TITLE: dict[str, FieldGroup] = {g.title.lower(): g for g in FIELD_GROUPS.values()}


def find_field_group(key: str) -> FieldGroup | None:
    return FIELD_GROUPS.get(key) or FIELD_GROUPS_BY_TITLE.get(key.lower())
