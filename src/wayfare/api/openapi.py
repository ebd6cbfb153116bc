"""The OpenAPI document for the collection endpoints and the admin API."""

from __future__ import annotations

from typing import Any

from wayfare import __version__

_PROBLEM = {"$ref": "#/components/schemas/Problem"}
_ORG_HEADER = {"$ref": "#/components/parameters/OrgHeader"}


_RETENTION_DAYS = {
    "type": ["integer", "null"],
    "minimum": 1,
    "maximum": 36500,
    "description": "Records older than this many days are deleted; null keeps them",
}
_SMILE = {"schema": {"type": "string", "format": "binary"}}
"""The same document in Jackson's binary JSON."""


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _PROBLEM}},
    }


def _admin(
    summary: str,
    ok: dict[str, Any],
    *,
    body: str | None = None,
    params: list[dict[str, Any]] | None = None,
    status: str = "200",
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "tags": ["admin"],
        "parameters": [_ORG_HEADER, *(params or [])],
        "responses": {
            status: _json(ok, "OK"),
            "400": _problem("Invalid request; report says where and why"),
            "401": _problem("Admin token required"),
            "403": _problem("Admin token invalid"),
            "404": _problem("Not found"),
            "409": _problem("Conflicts with an existing resource"),
        },
    }
    if body:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}},
        }
    return op


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": description,
    }


def _query(name: str, kind: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": {"type": kind},
        "description": description,
    }


def _collection(batch: bool) -> dict[str, Any]:
    params = [
        _path_param("inletId", "The inlet's id (64 hex characters)"),
        _query("syncValidation", "boolean", "Validate before answering; reject invalid messages"),
        _query("synchronousValidation", "boolean", "Older name of syncValidation"),
        {
            "name": "x-gw-ims-org-id",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "Optional; must be the inlet's org",
        },
        {
            "name": "x-adobe-flow-id",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "The dataflow id, echoed as flowId in the answer (raw inlets: "
            "required); also taken from the query as x-adobe-flow-id or flowId",
        },
    ]
    errors = {
        "400": _problem(
            "Invalid XDM Message Format, wrong org, unreadable JSON or Smile, or a Content-Type "
            "other than application/json or application/x-jackson-smile"
        ),
        "401": _problem("Authenticated inlet and no bearer token"),
        "403": _problem("Invalid or expired bearer token"),
        "404": _problem("Unknown inlet"),
        "413": _problem("Request over 1 MB"),
        "429": _problem("Over the inlet's rate limit; see Retry-After"),
        "503": _problem("Backpressure; see Retry-After"),
    }
    if batch:
        return {
            "summary": "Send a batch of messages",
            "tags": ["collection"],
            "parameters": params,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Batch"}},
                    "application/x-jackson-smile": _SMILE,
                },
            },
            "responses": {
                "207": _json(
                    {"$ref": "#/components/schemas/BatchAnswer"}, "One entry per message, in order"
                ),
                **errors,
            },
        }
    return {
        "summary": "Send one message",
        "tags": ["collection"],
        "parameters": params,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Message"}},
                "application/x-jackson-smile": _SMILE,
            },
        },
        "responses": {
            "200": _json({"$ref": "#/components/schemas/Accepted"}, "Durably written"),
            **errors,
        },
    }


def openapi_document() -> dict[str, Any]:
    obj = {"type": "object"}
    items = {"type": "array", "items": obj}
    paths: dict[str, Any] = {}
    for prefix in ("", "/data/foundation/import"):
        paths[f"{prefix}/collection/{{inletId}}"] = {"post": _collection(False)}
        paths[f"{prefix}/collection/batch/{{inletId}}"] = {"post": _collection(True)}
    ref = _path_param("ref", "Schema id, altId or name")
    pid = _path_param("id", "Id or name")
    paths.update(
        {
            "/healthz": {"get": {"summary": "Liveness", "responses": {"200": _json(obj, "OK")}}},
            "/api/v1/org": {
                "get": _admin("The org and its tenant id", obj),
                "put": _admin("Set the tenant id", obj, body="OrgChange"),
            },
            "/api/v1/schemas": {
                "get": _admin("List schemas (latest versions)", obj),
                "post": _admin(
                    "Create a schema and its default dataset",
                    obj,
                    body="SchemaDefinition",
                    status="201",
                ),
            },
            "/api/v1/schemas/{ref}": {
                "get": _admin("One schema", obj, params=[ref, _query("version", "integer", "")]),
                "put": _admin("Add a version", obj, body="SchemaDefinition", params=[ref]),
            },
            "/api/v1/schemas/{ref}/versions": {"get": _admin("Every version", obj, params=[ref])},
            "/api/v1/datasets": {
                "get": _admin("List datasets", obj, params=[_query("schema", "string", "")]),
                "post": _admin("Create a dataset", obj, body="DatasetSpec", status="201"),
            },
            "/api/v1/datasets/{id}": {
                "get": _admin("One dataset", obj, params=[pid]),
                "patch": _admin(
                    "Change a dataset's retention", obj, body="DatasetChange", params=[pid]
                ),
            },
            "/api/v1/datasets/{id}/records": {
                "get": _admin(
                    "Records, oldest first",
                    obj,
                    params=[
                        pid,
                        _query("limit", "integer", "At most this many (default 20)"),
                        _query("after", "integer", "Only records after this seq"),
                    ],
                )
            },
            "/api/v1/inlets": {
                "get": _admin("List inlets", obj),
                "post": _admin("Create an inlet", obj, body="InletSpec", status="201"),
            },
            "/api/v1/inlets/{id}": {
                "get": _admin("One inlet", obj, params=[pid]),
                "patch": _admin(
                    "Change an inlet (state enabled/disabled, name, ...)",
                    obj,
                    body="InletChange",
                    params=[pid],
                ),
                "delete": _admin("Delete an inlet", obj, params=[pid]),
            },
            "/api/v1/inlets/{id}/tokens": {
                "post": _admin("Issue a bearer token", obj, params=[pid], status="201"),
                "delete": _admin("Revoke every token", obj, params=[pid]),
            },
            "/api/v1/failures": {
                "get": _admin(
                    "Failed records, newest first",
                    {"type": "object", "properties": {"failures": items}},
                    params=[
                        _query("inletId", "string", "Only this inlet"),
                        _query("since", "string", "From this time (ms or ISO 8601)"),
                        _query("until", "string", "Before this time (ms or ISO 8601)"),
                        _query("limit", "integer", "At most this many (default 100)"),
                    ],
                )
            },
            "/api/v1/events": {
                "get": _admin("List event configurations", obj),
                "post": _admin(
                    "Create an event configuration", obj, body="EventDefinition", status="201"
                ),
            },
            "/api/v1/events/{name}": {
                "get": _admin("One event", obj, params=[_path_param("name", "Event name")]),
                "put": _admin(
                    "Change an event",
                    obj,
                    body="EventDefinition",
                    params=[_path_param("name", "Event name")],
                ),
                "delete": _admin(
                    "Delete an event", obj, params=[_path_param("name", "Event name")]
                ),
            },
            "/api/v1/events/{name}/payload-preview": {
                "get": _admin(
                    "The exact message a data system must send",
                    obj,
                    params=[
                        _path_param("name", "Event name"),
                        _query("snippets", "boolean", "Wrap with a curl command and Python"),
                    ],
                )
            },
            "/api/v1/events/{name}/messages": {
                "get": _admin(
                    "Matching outcomes, newest first",
                    obj,
                    params=[_path_param("name", "Event name"), _query("limit", "integer", "")],
                )
            },
            "/api/v1/apply": {"post": _admin("Apply definitions idempotently", obj, body="Apply")},
        }
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Wayfare",
            "version": __version__,
            "description": "Adobe-compatible streaming ingestion and its admin API",
        },
        "paths": paths,
        "components": {
            "parameters": {
                "OrgHeader": {
                    "name": "x-gw-ims-org-id",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string"},
                }
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Message": {
                    "type": "object",
                    "required": ["header", "body"],
                    "properties": {
                        "header": {
                            "type": "object",
                            "properties": {
                                "schemaRef": {
                                    "type": "object",
                                    "properties": {
                                        "id": {"type": "string"},
                                        "contentType": {"type": "string"},
                                    },
                                },
                                "imsOrgId": {"type": "string"},
                                "datasetId": {"type": "string"},
                                "msgId": {"type": "string"},
                                "msgType": {"type": "string"},
                                "msgVersion": {"type": "string"},
                                "xactionId": {"type": "string"},
                                "source": obj,
                                "flowId": {"type": "string"},
                            },
                        },
                        "body": {
                            "type": "object",
                            "properties": {"xdmMeta": obj, "xdmEntity": obj},
                        },
                    },
                },
                "Batch": {
                    "type": "object",
                    "required": ["messages"],
                    "properties": {
                        "messages": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Message"},
                        }
                    },
                },
                "Accepted": {
                    "type": "object",
                    "properties": {
                        "inletId": {"type": "string"},
                        "xactionId": {"type": "string"},
                        "receivedTimeMs": {"type": "integer"},
                        "syncValidation": obj,
                        "flowId": {"type": "string"},
                    },
                },
                "BatchAnswer": {
                    "type": "object",
                    "properties": {
                        "inletId": {"type": "string"},
                        "batchId": {"type": "string"},
                        "receivedTimeMs": {"type": "integer"},
                        "flowId": {"type": "string"},
                        "responses": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "xactionId": {"type": "string"},
                                    "status": {"type": "integer"},
                                    "statusCode": {"type": "integer"},
                                    "message": {"type": "string"},
                                    "duplicateOf": {"type": "string"},
                                    "report": obj,
                                },
                            },
                        },
                    },
                },
                "Problem": {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string"},
                        "status": {"type": "integer"},
                        "title": {"type": "string"},
                        "detail": {"type": "string"},
                        "report": obj,
                    },
                },
                "SchemaDefinition": {
                    "type": "object",
                    "required": ["name", "class"],
                    "properties": {
                        "name": {"type": "string"},
                        "title": {"type": "string"},
                        "description": {"type": "string"},
                        "class": {"type": "string", "enum": ["ExperienceEvent", "Profile"]},
                        "fieldGroups": {"type": "array", "items": {"type": "string"}},
                        "fields": obj,
                        "required": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "DatasetSpec": {
                    "type": "object",
                    "required": ["name", "schemaId"],
                    "properties": {
                        "name": {"type": "string"},
                        "schemaId": {"type": "string"},
                        "retentionDays": _RETENTION_DAYS,
                    },
                },
                "DatasetChange": {
                    "type": "object",
                    "required": ["retentionDays"],
                    "properties": {"retentionDays": _RETENTION_DAYS},
                },
                "InletSpec": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string"},
                        "description": {"type": "string"},
                        "sourceId": {"type": "string"},
                        "dataType": {"type": "string", "enum": ["xdm", "raw"]},
                        "authenticationRequired": {"type": "boolean"},
                        "datasetId": {"type": "string"},
                    },
                },
                "InletChange": obj,
                "EventDefinition": {
                    "type": "object",
                    "required": ["name", "schemaId", "namespace"],
                    "properties": {
                        "name": {"type": "string", "pattern": "^[A-Za-z0-9_]{1,30}$"},
                        "description": {"type": "string"},
                        "schemaId": {"type": "string"},
                        "namespace": {"type": "string"},
                        "identifier": {"type": "string"},
                        "eventIdType": {"type": "string", "enum": ["system", "rule"]},
                        "condition": {"type": "string"},
                        "fields": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "OrgChange": {"type": "object", "properties": {"tenantId": {"type": "string"}}},
                "Apply": {"type": "object", "properties": {"documents": items}},
            },
        },
    }
