"""The demo that ``wayfare serve --demo`` sets up, idempotently.

Org ``DEMO@WayfareOrg`` (tenant ``instance_name``), a schema shaped like Adobe's "send events
to a journey" example, its default dataset, and an unauthenticated inlet.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from wayfare.errors import InvalidRequestError
from wayfare.model.destinations import url_destination
from wayfare.model.resources import Schema
from wayfare.model.schema import content_type
from wayfare.registry.apply import Applier
from wayfare.registry.snippets import curl_command

__all__ = ["curl_command", "demo_webhook", "sample_message", "setup_demo"]

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


DEMO_JOURNEY = "welcome"


def demo_webhook(base_url: str) -> str:
    """The host and port the demo journey's webhook call goes to (the server itself), as
    ``serve --demo`` lets it through the destination policy."""
    found = url_destination(base_url)
    if found is None:
        raise InvalidRequestError(f"the demo needs a base URL with a host, not {base_url!r}")
    host, port = found
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def demo_journey(base_url: str) -> dict[str, Any]:
    """The live ``welcome`` journey: wait a minute, look at the birth year, call the demo
    webhook that ``wayfare serve`` answers itself (or log), end."""
    person = f"@event{{{DEMO_EVENT}._{DEMO_TENANT}.person"
    return {
        "kind": "Journey",
        "name": DEMO_JOURNEY,
        "state": "live",
        "description": "Welcome new newsletter subscribers",
        "entry": {"event": DEMO_EVENT, "next": "wait_a_minute"},
        "reentrance": {"allowed": True, "waitSeconds": 300},
        "activities": {
            "wait_a_minute": {"type": "wait", "duration": "1m", "next": "check_birth_year"},
            "check_birth_year": {
                "type": "condition",
                "branches": [
                    {
                        "label": "born in 1990 or later",
                        "when": f"{person}.birthYear}} >= 1990",
                        "next": "welcome_webhook",
                    }
                ],
                "otherwise": "log_welcome",
            },
            "welcome_webhook": {
                "type": "http",
                "method": "POST",
                "url": f"{base_url}/demo/webhook",
                "timeoutSeconds": 5,
                "body": {
                    "email": f"{{{{ {person}.emailAddress}} }}}}",
                    "firstName": f"{{{{ {person}.firstName}} }}}}",
                    "birthYear": f"{{{{ {person}.birthYear}} }}}}",
                    "journey": DEMO_JOURNEY,
                },
                "next": "done",
                "error": "log_failure",
            },
            "log_welcome": {
                "type": "log",
                "message": f"welcome {{{{ {person}.firstName}} }}}}",
                "next": "done",
            },
            "log_failure": {"type": "log", "message": "the webhook failed", "next": "done"},
            "done": {"type": "end"},
        },
    }


def setup_demo(applier: Applier, base_url: str) -> None:
    applier.apply(DEMO_ORG, [*DEMO_DOCUMENTS, demo_journey(base_url)])


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
