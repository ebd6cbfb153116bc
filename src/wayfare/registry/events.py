"""Event configurations: create, change, delete, payload preview, matching outcomes."""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from wayfare.clock import Clock
from wayfare.errors import ConflictError, InvalidRequestError, NotFoundError, Violation
from wayfare.ingest.catalog import Catalog
from wayfare.model.events import (
    EventConfig,
    EventDefinition,
    condition_problems,
    resolve_event,
)
from wayfare.model.matching import MatchRecord, all_system_events, lacking_event_id
from wayfare.model.payload_preview import preview_message
from wayfare.model.resources import Schema
from wayfare.registry.schemas import SchemaRegistry
from wayfare.store.ports import ResourceStore

RECORDS_SCANNED = 200
"""How many of the newest records of each dataset an event's messages look through, at
least, for messages without an eventID (as many as the messages asked for, when more)."""

# Journeys register here which live journeys use an event (empty until journeys exist).
JourneyLookup = Callable[[str, str], list[str]]


def _no_journeys(org_id: str, event_name: str) -> list[str]:
    return []


def iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EventRegistry:
    def __init__(
        self,
        store: ResourceStore,
        catalog: Catalog,
        clock: Clock,
        schemas: SchemaRegistry,
        journeys_using: JourneyLookup = _no_journeys,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._clock = clock
        self._schemas = schemas
        self.journeys_using = journeys_using

    def get(self, org_id: str, name: str) -> EventConfig:
        event = self._store.get_event(org_id, name)
        if event is None:
            raise NotFoundError(f"Event {name!r} was not found in org {org_id}")
        return event

    def all(self, org_id: str) -> list[EventConfig]:
        return self._store.list_events(org_id)

    def _resolve(
        self, org_id: str, definition: EventDefinition, event_id: str | None, created_ms: int
    ) -> tuple[EventConfig, Schema]:
        schema = self._schemas.get(org_id, definition.schema)
        config = resolve_event(
            definition,
            org_id=org_id,
            schema_id=schema.schema_id,
            json_schema=schema.json_schema,
            field_groups=schema.definition.field_groups,
            event_id=event_id,
            created_ms=created_ms,
        )
        return config, schema

    def create(self, org_id: str, data: object) -> EventConfig:
        definition = EventDefinition.from_json(data)
        if self._store.get_event(org_id, definition.name) is not None:
            raise ConflictError(f"An event named {definition.name!r} already exists")
        event_id = secrets.token_hex(32) if definition.id_type == "system" else None
        config, _ = self._resolve(org_id, definition, event_id, self._clock.now_ms())
        self._store.add_event(config)
        self._catalog.forget_schema(config.schema_id)
        return config

    def update(self, org_id: str, name: str, data: object) -> EventConfig:
        current = self.get(org_id, name)
        definition = EventDefinition.from_json(data)
        if definition.name != current.name:
            raise InvalidRequestError(
                "An event cannot be renamed; create a new one",
                violations=(Violation("/name", "const", f"was {current.name}"),),
            )
        config, _ = self._resolve(org_id, definition, current.event_id, current.created_ms)
        if definition.id_type != current.id_type:
            raise InvalidRequestError(
                "An event's eventIdType cannot change",
                violations=(Violation("/eventIdType", "const", f"was {current.id_type}"),),
            )
        if config == current:
            return current
        users = self.journeys_using(org_id, name)
        if users:
            only_added = (
                config.schema_id == current.schema_id
                and dataclasses.replace(
                    config, description=current.description, fields=current.fields
                )
                == current
                and set(current.fields) <= set(config.fields)
            )
            if not only_added:
                raise ConflictError(
                    f"Event {name!r} is used by live journeys ({', '.join(users)}): only its "
                    "description can change and payload fields be added"
                )
        self._store.update_event(config)
        self._catalog.forget_schema(current.schema_id)
        self._catalog.forget_schema(config.schema_id)
        return config

    def delete(self, org_id: str, name: str) -> EventConfig:
        current = self.get(org_id, name)
        users = self.journeys_using(org_id, name)
        if users:
            raise ConflictError(
                f"Event {name!r} is used by live journeys ({', '.join(users)}); "
                "stop or close them first"
            )
        self._store.delete_event(org_id, name)
        self._catalog.forget_schema(current.schema_id)
        return current

    def preview(self, org_id: str, name: str) -> dict[str, Any]:
        config = self.get(org_id, name)
        schema = self._schemas.get(org_id, config.schema_id)
        datasets = self._store.list_datasets(org_id, schema.schema_id)
        default = next((d.dataset_id for d in datasets if d.is_default), None)
        return preview_message(
            json_schema=schema.json_schema,
            schema_version=schema.version,
            config=config,
            dataset_id=default,
            msg_id=str(uuid.uuid4()),
            xaction_id=str(uuid.uuid4()),
            now_iso=iso(self._clock.now_ms()),
        )

    def check_condition(self, org_id: str, schema_key: str, condition: str) -> list[str]:
        """What is wrong with a rule-based condition over the schema (empty: nothing),
        as saving the event would say it."""
        schema = self._schemas.get(org_id, schema_key)
        return condition_problems(schema.json_schema, condition)

    def messages(self, org_id: str, name: str, limit: int = 20) -> list[MatchRecord]:
        """The event's newest outcomes. A system event's include those kept for all its
        schema's system events (an eventID none of them has), and the messages without an
        eventID among the newest records of its schema's datasets (``lacking_event_id``:
        no outcome is kept for them); both only from the event's creation on (an older
        message was not matched against it)."""
        event = self.get(org_id, name)
        if event.id_type != "system":
            return self._store.list_event_matches(org_id, name, limit=limit)
        found = [
            m if m.match.event_name == name else m.named(name)
            for m in self._store.list_event_matches(
                org_id, name, limit=limit, also=(all_system_events(event.schema_id),)
            )
            if m.match.event_name == name or m.received_ms >= event.created_ms
        ]
        scanned = max(limit, RECORDS_SCANNED)
        for dataset in self._store.list_datasets(org_id, event.schema_id):
            records = self._store.list_records(dataset.dataset_id, limit=scanned)
            found.extend(lacking_event_id(name, records, event.created_ms))
        found.sort(key=lambda m: (m.received_ms, m.seq), reverse=True)
        return found[:limit]
