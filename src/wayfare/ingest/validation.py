"""Schemas compiled once into fast validators (jsonschema-rs) and the violations they report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jsonschema_rs

from wayfare.errors import InvalidRequestError, Violation
from wayfare.model.resources import Schema

# Cap the detail kept for one message: enough to fix it, bounded for hostile input.
MAX_VIOLATIONS = 100
MAX_VIOLATION_MESSAGE = 500
"""Characters of one violation's message (it may quote the offending value)."""


def _pointer(path: Any) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "#/" + "/".join(parts) if parts else "#"


def _violation(error: Any) -> Violation:
    schema_path = list(error.schema_path)
    keyword = str(schema_path[-1]) if schema_path else "schema"
    if keyword == "additionalProperties" and len(schema_path) >= 2:
        keyword = "additionalProperties"
    message = str(error.message)
    if len(message) > MAX_VIOLATION_MESSAGE:
        message = message[: MAX_VIOLATION_MESSAGE - 1] + "…"
    return Violation(
        pointer=_pointer(error.instance_path),
        keyword=keyword,
        message=message,
        schema_location=_pointer(schema_path),
    )


def compile_json_schema(json_schema: dict[str, Any]) -> Any:
    """A compiled validator, or InvalidRequestError naming what is wrong with the schema.
    Offline: a ``$ref`` names a part of the schema itself. Fetched, a ``$ref`` to a URL made
    every process that compiles the schema GET it (any address: the destination policy of
    actions knows nothing of it), waiting on it, and validate by what it answered then."""
    try:
        jsonschema_rs.meta.validate(json_schema)
        return jsonschema_rs.validator_for(json_schema, validate_formats=True, offline=True)
    except (jsonschema_rs.ValidationError, ValueError, TypeError) as exc:
        message = getattr(exc, "message", str(exc))
        path = getattr(exc, "instance_path", [])
        raise InvalidRequestError(
            f"the schema is not valid JSON Schema: {message}",
            violations=(Violation(pointer=_pointer(path), keyword="schema", message=message),),
        ) from exc


@dataclass(frozen=True, slots=True)
class CompiledSchema:
    schema: Schema
    validator: Any

    @classmethod
    def compile(cls, schema: Schema) -> CompiledSchema:
        return cls(schema=schema, validator=compile_json_schema(schema.json_schema))

    def violations(self, entity: object) -> list[Violation]:
        """Every violation of the entity (capped), or an empty list when it is valid."""
        if self.validator.is_valid(entity):
            return []
        found: list[Violation] = []
        for error in self.validator.iter_errors(entity):
            found.append(_violation(error))
            if len(found) >= MAX_VIOLATIONS:
                break
        return found
