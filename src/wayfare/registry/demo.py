"""The demo that ``wayfare serve --demo`` sets up, idempotently.

Org ``DEMO@WayfareOrg`` (tenant ``instance_name``), a schema shaped like Adobe's "send events
to a journey" example, its default dataset, and an unauthenticated inlet.
"""

from __future__ import annotations

import json
import shlex
import uuid
from datetime import UTC, datetime
from typing import Any

from wayfare.model.resources import Schema
from wayfare.model.schema import content_type
from wayfare.registry.apply import Applier

DEMO_ORG = "DEMO@WayfareOrg"
DEMO_TENANT = "instance_name"
DEMO_SCHEMA = "newsletter_signup"
DEMO_INLET = "demo-inlet"

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
]


def setup_demo(applier: Applier) -> None:
    applier.apply(DEMO_ORG, DEMO_DOCUMENTS)


def sample_message(schema: Schema, dataset_id: str | None = None) -> dict[str, Any]:
    """A valid message for the demo schema, as a data system would send it."""
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
    return {
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


def curl_command(url: str, org_id: str, message: dict[str, Any]) -> str:
    body = json.dumps(message, indent=2)
    return (
        f"curl -X POST {shlex.quote(url)} \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        f"  -H {shlex.quote('x-gw-ims-org-id: ' + org_id)} \\\n"
        f"  -d {shlex.quote(body)}"
    )
