"""Walking a schema's JSON Schema by dotted field paths (``_tenant.person.firstName``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


def field_schema(json_schema: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The JSON Schema of the field at ``path``; array items are entered transparently,
    ``identityMap.<Namespace>`` resolves through additionalProperties."""
    node: dict[str, Any] | None = json_schema
    for part in path.split("."):
        node = _child(node, part)
        if node is None:
            return None
    return node


def _child(node: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    while node is not None and node.get("type") == "array":
        items = node.get("items")
        node = items if isinstance(items, dict) else None
    if node is None:
        return None
    props = node.get("properties")
    if isinstance(props, dict) and isinstance(props.get(name), dict):
        child: dict[str, Any] = props[name]
        return child
    extra = node.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def leaf_paths(json_schema: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Every leaf field path of the schema, in declaration order."""
    props = json_schema.get("properties")
    if not isinstance(props, dict):
        return
    for name, sub in props.items():
        if not isinstance(sub, dict):
            continue
        path = f"{prefix}.{name}" if prefix else name
        target = sub
        while target.get("type") == "array" and isinstance(target.get("items"), dict):
            target = target["items"]
        if isinstance(target.get("properties"), dict):
            yield from leaf_paths(target, path)
        else:
            yield path


def required_paths(json_schema: dict[str, Any], selected: set[str], prefix: str = "") -> set[str]:
    """Fields that must come along with ``selected``: required at the root, and required
    inside every object on the way to a selected field."""
    found: set[str] = set()
    props = json_schema.get("properties")
    if not isinstance(props, dict):
        return found
    for name in json_schema.get("required", []):
        found.add(f"{prefix}.{name}" if prefix else name)
    for name, sub in props.items():
        path = f"{prefix}.{name}" if prefix else name
        if not isinstance(sub, dict):
            continue
        used = any(s == path or s.startswith(path + ".") for s in selected | found)
        target = sub
        while target.get("type") == "array" and isinstance(target.get("items"), dict):
            target = target["items"]
        if used and isinstance(target.get("properties"), dict):
            found |= required_paths(target, selected | found, path)
    return found


@dataclass(frozen=True, slots=True)
class SchemaField:
    """One field of a schema's tree, as a person reads it: its path, its type (``string``,
    ``object``, ``array of string``, ...), whether it is required, its enum or format."""

    name: str
    path: str
    type: str
    required: bool
    enum: tuple[Any, ...] = ()
    format: str | None = None
    description: str = ""
    children: tuple[SchemaField, ...] = ()


def field_tree(json_schema: dict[str, Any], prefix: str = "") -> tuple[SchemaField, ...]:
    """The fields of ``json_schema`` in declaration order, nested as the schema nests them
    (array items are entered; a map of identities shows as one object field)."""
    props = json_schema.get("properties")
    if not isinstance(props, dict):
        return ()
    required = set(json_schema.get("required", ()))
    fields = []
    for name, sub in props.items():
        if not isinstance(sub, dict):
            continue
        path = f"{prefix}.{name}" if prefix else name
        target, kind = sub, ""
        while target.get("type") == "array" and isinstance(target.get("items"), dict):
            target, kind = target["items"], kind + "array of "
        kind += str(target.get("type", "any"))
        fields.append(
            SchemaField(
                name=name,
                path=path,
                type=kind,
                required=name in required,
                enum=tuple(target.get("enum", ())),
                format=target.get("format"),
                description=str(sub.get("description") or target.get("description") or ""),
                children=field_tree(target, path),
            )
        )
    return tuple(fields)
