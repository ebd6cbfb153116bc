"""Event configurations: which messages are journey events, and whose.

A unitary event names a schema, the payload fields journeys may read, the namespace and the
path of the person's identifier, and how messages are recognised: *system-generated* (an
``eventID`` minted at save time, matched on ``_experience.campaign.orchestration.eventID``) or
*rule-based* (a condition over payload fields).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from wayfare.model.expressions import ExpressionError, parse
from wayfare.model.field_groups import ORCHESTRATION_EVENT_ID
from wayfare.model.identities import normalise
from wayfare.model.rules import Checker, require_object
from wayfare.model.schema_paths import field_schema, required_paths

EVENT_NAME = re.compile(r"^[A-Za-z0-9_]{1,30}$")
EVENT_ID_PATH = "_experience.campaign.orchestration.eventID"
IdType = Literal["system", "rule"]


def default_identifier(namespace: str) -> str:
    return f"identityMap.{namespace}[0].id"


@dataclass(frozen=True, slots=True)
class EventDefinition:
    """What a user writes to configure an event."""

    name: str
    schema: str
    namespace: str
    id_type: IdType = "system"
    description: str = ""
    fields: tuple[str, ...] = ()
    identifier: str = ""
    condition: str | None = None

    @classmethod
    def from_json(cls, data: object) -> EventDefinition:
        obj = require_object(data, "event")
        check = Checker("event")
        name = check.string(obj, "name", required=True)
        if isinstance(obj.get("name"), str) and not EVENT_NAME.match(name):
            check.fail(
                "/name",
                "pattern",
                "name must be letters, digits and '_' only, at most 30 characters",
            )
        schema = check.string(obj, "schemaId", required=True)
        namespace = check.string(obj, "namespace", required=True)
        id_type = check.string(obj, "eventIdType", default="system")
        if id_type not in ("system", "rule"):
            check.fail("/eventIdType", "enum", "eventIdType must be 'system' or 'rule'")
        condition = obj.get("condition")
        if id_type == "rule" and not isinstance(condition, str):
            check.fail("/condition", "required", "a rule-based event needs a condition")
        if id_type == "system" and condition is not None:
            check.fail("/condition", "const", "a system-generated event takes no condition")
        raw_fields = obj.get("fields", [])
        if not isinstance(raw_fields, list) or not all(isinstance(f, str) for f in raw_fields):
            check.fail("/fields", "type", "fields must be a list of field paths")
            raw_fields = []
        identifier = check.string(obj, "identifier") or (
            default_identifier(namespace) if namespace else ""
        )
        description = check.string(obj, "description")
        check.done()
        return cls(
            name=name,
            schema=schema,
            namespace=namespace,
            id_type="rule" if id_type == "rule" else "system",
            description=description,
            fields=tuple(raw_fields),
            identifier=identifier,
            condition=condition if isinstance(condition, str) else None,
        )


def _identifier_field(identifier: str) -> str:
    """The schema field an identifier path lives in: ``identityMap.Email[0].id`` → identityMap."""
    if identifier.startswith("identityMap."):
        return "identityMap"
    return re.sub(r"\[\d+\]", "", identifier)


@dataclass(frozen=True, slots=True)
class EventConfig:
    org_id: str
    name: str
    schema_id: str
    namespace: str
    id_type: IdType
    identifier: str
    fields: tuple[str, ...]
    description: str = ""
    event_id: str | None = None
    condition: str | None = None
    created_ms: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "schemaId": self.schema_id,
            "namespace": self.namespace,
            "identifier": self.identifier,
            "eventIdType": self.id_type,
            "eventID": self.event_id,
            "condition": self.condition,
            "fields": list(self.fields),
            "imsOrg": self.org_id,
            "createdMs": self.created_ms,
        }


def resolve_event(
    definition: EventDefinition,
    *,
    org_id: str,
    schema_id: str,
    json_schema: dict[str, Any],
    field_groups: tuple[str, ...],
    event_id: str | None,
    created_ms: int,
) -> EventConfig:
    """Check a definition against its schema and complete its field selection."""
    check = Checker("event")
    selected: list[str] = []
    for i, path in enumerate(definition.fields):
        if field_schema(json_schema, path) is None:
            check.fail(f"/fields/{i}", "enum", f"the schema has no field {path!r}")
        elif path not in selected:
            selected.append(path)
    ident_field = _identifier_field(definition.identifier)
    if definition.identifier.startswith("identityMap."):
        expected = re.match(r"^identityMap\.([^.\[]+)", definition.identifier)
        if expected and expected.group(1) != definition.namespace:
            check.fail(
                "/identifier",
                "const",
                f"identifier reads namespace {expected.group(1)!r}, "
                f"not the event's {definition.namespace!r}",
            )
    elif field_schema(json_schema, ident_field) is None:
        check.fail("/identifier", "enum", f"the schema has no field {ident_field!r}")
    if definition.id_type == "system" and ORCHESTRATION_EVENT_ID.id not in field_groups:
        check.fail(
            "/eventIdType",
            "enum",
            "system-generated events need a schema with the 'Orchestration eventID' "
            "field group; use a rule-based event or add the field group",
        )
    if definition.condition is not None:
        for problem in condition_problems(json_schema, definition.condition):
            check.fail("/condition", "expression", problem)
    check.done()
    wanted = set(selected) | {ident_field}
    if definition.id_type == "system":
        wanted.add(EVENT_ID_PATH)
    wanted |= required_paths(json_schema, wanted)
    ordered = selected + sorted(p for p in wanted if p not in selected)
    return EventConfig(
        org_id=org_id,
        name=definition.name,
        schema_id=schema_id,
        namespace=definition.namespace,
        id_type=definition.id_type,
        identifier=definition.identifier,
        fields=tuple(ordered),
        description=definition.description,
        event_id=event_id if definition.id_type == "system" else None,
        condition=definition.condition,
        created_ms=created_ms,
    )


def condition_problems(json_schema: dict[str, Any], condition: str) -> list[str]:
    """What is wrong with a rule-based event's condition over the schema: its syntax, or
    each field it reads that the schema has not; empty when it is fine."""
    try:
        parsed = parse(condition)
    except ExpressionError as exc:
        return [exc.message]
    return [
        f"the schema has no field {ref.dotted!r} (column {ref.column})"
        for ref in parsed.paths()
        if field_schema(json_schema, re.sub(r"\[\d+\]", "", ref.dotted)) is None
    ]


class Unmatched(StrEnum):
    """Why a message is not an event of a configuration, or not of a person."""

    NO_EVENT_ID = "no eventID"
    UNKNOWN_EVENT_ID = "unknown eventID"
    CONDITION_NOT_MET = "condition not met"
    IDENTITY_MISSING = "identity missing"
    NAMESPACE_MISMATCH = "namespace mismatch"

    @property
    def counts(self) -> bool:
        """The message is the event but its person cannot be told: journeys still count it
        (a discard with this cause), where other unmatched outcomes concern no journey."""
        return self in (Unmatched.IDENTITY_MISSING, Unmatched.NAMESPACE_MISMATCH)


COUNTED_UNMATCHED = tuple(u for u in Unmatched if u.counts)


def identity_of(
    config: EventConfig, entity: Mapping[str, Any]
) -> tuple[str, None, None] | tuple[None, Unmatched, str]:
    """(identity, None, None) when the message names its person, else (None, why, reason).
    The identity is normalised as its namespace's ids are (model/identities.py): an event
    naming ``Ada@Example.com`` and one naming ``ada@example.com`` are one person's, to
    journeys as to the identity graph."""
    if config.identifier.startswith("identityMap."):
        identities = entity.get("identityMap")
        if not isinstance(identities, dict) or not identities:
            return (
                None,
                Unmatched.IDENTITY_MISSING,
                "identity missing: the message has no identityMap",
            )
        if config.namespace not in identities:
            return (
                None,
                Unmatched.NAMESPACE_MISMATCH,
                (
                    f"namespace not the event's: the message has "
                    f"{', '.join(sorted(identities))}, the event reads {config.namespace}"
                ),
            )
    value = _resolve_path(entity, config.identifier)
    found = None if value is None else normalise(config.namespace, str(value))
    if not found:
        return None, Unmatched.IDENTITY_MISSING, f"identity missing: nothing at {config.identifier}"
    return found, None, None


_PATH_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@functools.lru_cache(maxsize=1024)
def _path_steps(path: str) -> tuple[str | int, ...]:
    """``identityMap.Email[0].id`` -> ``("identityMap", "Email", 0, "id")``; read once per
    path (events' identifiers are few), where a message is matched every time."""
    return tuple(int(index) if index else name for name, index in _PATH_STEP.findall(path))


def _resolve_path(data: Any, path: str) -> Any:
    for step in _path_steps(path):
        if isinstance(step, int):
            data = data[step] if isinstance(data, list) and step < len(data) else None
        else:
            data = data.get(step) if isinstance(data, dict) else None
        if data is None:
            return None
    return data


def event_from_json(org_id: str, body: dict[str, Any]) -> EventConfig:
    """Rebuild a stored event configuration (the inverse of ``EventConfig.as_json``); its
    condition is compiled where messages are matched (``EventIndex``)."""
    return EventConfig(
        org_id=org_id,
        name=body["name"],
        schema_id=body["schemaId"],
        namespace=body["namespace"],
        id_type="rule" if body.get("eventIdType") == "rule" else "system",
        identifier=body["identifier"],
        fields=tuple(body.get("fields", ())),
        description=body.get("description", ""),
        event_id=body.get("eventID"),
        condition=body.get("condition"),
        created_ms=body.get("createdMs", 0),
    )
