"""Payload preview: the exact message a data system must send for an event.

The header is filled in; the body holds exactly the event's selected fields with typed
placeholders (``"string"``, ``0``, ``true``, an ISO date-time, one-element arrays, or as
many elements as ``minItems`` asks) and the real eventID. Once the placeholders hold valid
values, the message passes sync validation.
"""

from __future__ import annotations

import copy
from typing import Any

from wayfare.model.events import EVENT_ID_PATH, EventConfig
from wayfare.model.schema import content_type
from wayfare.model.schema_paths import field_schema


def placeholder(schema: dict[str, Any], now_iso: str) -> Any:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date-time":
            return now_iso
        if fmt == "date":
            return now_iso[:10]
        return "string"
    if kind in ("integer", "number"):
        return 0
    if kind == "boolean":
        return True
    if kind == "array":
        items = schema.get("items")
        return [
            placeholder(items if isinstance(items, dict) else {}, now_iso)
            for _ in range(_length(schema))
        ]
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {k: placeholder(v, now_iso) for k, v in props.items() if isinstance(v, dict)}
    return "string"


def _length(array_schema: dict[str, Any]) -> int:
    """One element, or as many as the schema's ``minItems`` asks for."""
    least = array_schema.get("minItems")
    return least if isinstance(least, int) and least > 1 else 1


def _slots(holder: list[Any], array_schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects a path continues into, through (nested) arrays, created as needed."""
    while len(holder) < _length(array_schema):
        holder.append(copy.deepcopy(holder[0]) if holder else None)
    items = array_schema.get("items")
    items = items if isinstance(items, dict) else {}
    slots: list[dict[str, Any]] = []
    for i, element in enumerate(holder):
        if items.get("type") == "array":
            if not isinstance(element, list):
                holder[i] = element = []
            slots.extend(_slots(element, items))
        else:
            if not isinstance(element, dict):
                holder[i] = element = {}
            slots.append(element)
    return slots


def _set(target: dict[str, Any], json_schema: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    nodes: list[dict[str, Any]] = [target]
    for depth, part in enumerate(parts[:-1]):
        sub = field_schema(json_schema, ".".join(parts[: depth + 1])) or {}
        if sub.get("type") == "array":
            nodes = [slot for node in nodes for slot in _slots(node.setdefault(part, []), sub)]
        else:
            nodes = [node.setdefault(part, {}) for node in nodes]
    last = parts[-1]
    for node in nodes:
        existing = node.get(last)
        if isinstance(existing, dict) and isinstance(value, dict):
            existing.update(copy.deepcopy(value))
        else:
            node[last] = copy.deepcopy(value)


def preview_entity(
    json_schema: dict[str, Any], config: EventConfig, now_iso: str
) -> dict[str, Any]:
    entity: dict[str, Any] = {}
    for path in config.fields:
        if path == EVENT_ID_PATH and config.event_id:
            continue  # set last, so that a selected ancestor's placeholders cannot hide it
        if path != "identityMap":
            sub = field_schema(json_schema, path)
            _set(entity, json_schema, path, placeholder(sub or {}, now_iso))
        if path == "identityMap" or path.startswith("identityMap."):
            # every identity needs its id, whatever else of it is selected
            namespace = config.namespace if path == "identityMap" else path.split(".")[1]
            _set(entity, json_schema, f"identityMap.{namespace}.id", "string")
    if config.event_id and EVENT_ID_PATH in config.fields:
        _set(entity, json_schema, EVENT_ID_PATH, config.event_id)
    return entity


def preview_message(
    *,
    json_schema: dict[str, Any],
    schema_version: int,
    config: EventConfig,
    dataset_id: str | None,
    msg_id: str,
    xaction_id: str,
    now_iso: str,
) -> dict[str, Any]:
    ref = {"id": config.schema_id, "contentType": content_type(schema_version)}
    header: dict[str, Any] = {
        "msgType": "xdmEntityCreate",
        "msgId": msg_id,
        "msgVersion": "1.0",
        "xactionId": xaction_id,
        "datasetId": dataset_id,
        "imsOrgId": config.org_id,
        "schemaRef": ref,
        "source": {"name": "Journeys"},
    }
    if dataset_id is None:
        del header["datasetId"]
    return {
        "header": header,
        "body": {
            "xdmMeta": {"schemaRef": dict(ref)},
            "xdmEntity": preview_entity(json_schema, config, now_iso),
        },
    }
