"""The demo that ``wayfare serve --demo`` sets up, idempotently.

Org ``DEMO@WayfareOrg`` (tenant ``instance_name``), a schema shaped like Adobe's "send events
to a journey" example, its default dataset, and an unauthenticated inlet.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from wayfare.model.resources import Schema
from wayfare.model.schema import content_type
from wayfare.registry.apply import Applier
from wayfare.registry.snippets import curl_command

__all__ = ["curl_command", "sample_message", "setup_demo"]

DEMO_ORG = "DEMO@WayfareOrg"
DEMO_TENANT = "instance_name"
DEMO_SCHEMA = "newsletter_signup"
DEMO_INLET = "demo-inlet"
DEMO_EVENT = "newsletter_signup"

DEMO_DOCUMENTS: list[dict[str, Any]] = [
    {"kind": "Org", "tenantId": DEMO_TENANT},
    {
        "kind": "Schema",
        "name": DEMO_SCHEMA,
        "title": "Newsletter signup",
        "description": "A person signs up to the newsletter (Adobe's journey event example).",
        "class": "ExperienceEvent",
        "fieldGroups": ["orchestration-eventid"],
        "fields": {
            "person": {
                "type": "object",
                "properties": {
                    "firstName": {"type": "string"},
                    "lastName": {"type": "string"},
                    "gender": {
                        "type": "string",
                        "enum": ["male", "female", "non_specific", "not_specified"],
                    },
                    "birthYear": {"type": "integer"},
                    "emailAddress": {"type": "string", "format": "email"},
                },
            }
        },
        "required": ["identityMap"],
    },
    {
        "kind": "Inlet",
        "name": DEMO_INLET,
        "description": "Demo HTTP API streaming connection",
        "sourceId": "demo",
        "dataType": "xdm",
        "authenticationRequired": False,
    },
    {
        "kind": "Event",
        "name": DEMO_EVENT,
        "description": "A person signs up to the newsletter",
        "schemaId": DEMO_SCHEMA,
        "namespace": "Email",
        "eventIdType": "system",
        "fields": [
            f"_{DEMO_TENANT}.person.firstName",
            f"_{DEMO_TENANT}.person.lastName",
            f"_{DEMO_TENANT}.person.gender",
            f"_{DEMO_TENANT}.person.birthYear",
            f"_{DEMO_TENANT}.person.emailAddress",
        ],
    },
]


def setup_demo(applier: Applier) -> None:
    applier.apply(DEMO_ORG, DEMO_DOCUMENTS)


def sample_message(
    schema: Schema, dataset_id: str | None = None, event_id: str | None = None
) -> dict[str, Any]:
    """A valid message for the demo schema, as a data system would send it; with
    ``event_id`` it is a ``newsletter_signup`` event."""
    ref = {"id": schema.schema_id, "contentType": content_type(schema.version)}
    header: dict[str, Any] = {
        "msgType": "xdmEntityCreate",
        "msgVersion": "1.0",
        "imsOrgId": schema.org_id,
        "schemaRef": ref,
        "source": {"name": "Journeys"},
    }
    if dataset_id:
        header["datasetId"] = dataset_id
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    message: dict[str, Any] = {
        "header": header,
        "body": {
            "xdmMeta": {"schemaRef": ref},
            "xdmEntity": {
                "_id": str(uuid.uuid4()),
                "timestamp": now,
                "identityMap": {"Email": [{"id": "ada@example.com", "primary": True}]},
                f"_{DEMO_TENANT}": {
                    "person": {
                        "firstName": "Ada",
                        "lastName": "Lovelace",
                        "gender": "female",
                        "birthYear": 1990,
                        "emailAddress": "ada@example.com",
                    }
                },
            },
        },
    }
    if event_id:
        message["body"]["xdmEntity"]["_experience"] = {
            "campaign": {"orchestration": {"eventID": event_id}}
        }
    return message
