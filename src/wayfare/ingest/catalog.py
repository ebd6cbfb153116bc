"""What the hot path looks up per message, cached: inlets, compiled schemas, datasets, tokens.

Schema versions never change once written, so compiled validators are cached for good.
Inlets and tokens can be disabled or revoked by another process; they are re-read after
``ttl_seconds``. The admin use cases in this process invalidate entries at once. While the
store fails, what was read last is used.

Inlets and tokens are looked up by what a caller sends, so their caches (misses included)
keep at most ``max_entries`` each, and an id or token longer than any Wayfare issues is
refused without a lookup.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from wayfare.clock import Clock
from wayfare.errors import (
    ForbiddenError,
    InvalidRequestError,
    MessageFormatError,
    NotFoundError,
    StoreError,
    Violation,
)
from wayfare.ingest.lru import LruMap
from wayfare.ingest.validation import CompiledSchema
from wayfare.model.matching import EventIndex
from wayfare.model.records import AccessToken
from wayfare.model.resources import Inlet
from wayfare.model.tokens import hash_token
from wayfare.store.ports import ResourceStore

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_INLET_ID_LENGTH = 128
"""Inlet ids are 64 characters; a longer one names no inlet."""
MAX_TOKEN_LENGTH = 256
"""Access tokens are 46 characters; a longer one is no token."""


@dataclass(frozen=True, slots=True)
class Route:
    """Where a message of one schema version goes, and how it is checked."""

    compiled: CompiledSchema
    default_dataset_id: str | None
    dataset_ids: frozenset[str]
    events: EventIndex
    """The org's event configurations on this schema."""


class Catalog:
    def __init__(
        self,
        store: ResourceStore,
        clock: Clock,
        ttl_seconds: float = 2.0,
        *,
        max_entries: int = 10_000,
    ) -> None:
        self._store = store
        self._clock = clock
        self._ttl_ms = int(ttl_seconds * 1000)
        self._inlets: LruMap[str, tuple[Inlet | None, int]] = LruMap(max_entries)
        self._tokens: LruMap[str, tuple[AccessToken | None, int]] = LruMap(max_entries)
        self._routes: dict[tuple[str, str, int | None], Route] = {}

    # inlets
    def inlet(self, inlet_id: str) -> Inlet:
        if len(inlet_id) > MAX_INLET_ID_LENGTH:
            raise NotFoundError(f"Inlet {inlet_id[:MAX_INLET_ID_LENGTH]}... was not found")
        now = self._clock.now_ms()
        cached = self._inlets.get(inlet_id)
        if cached is None or cached[1] <= now:
            inlet = _fresh(lambda: self._store.get_inlet(inlet_id), cached)
            self._inlets[inlet_id] = (inlet, now + self._ttl_ms)
        else:
            inlet = cached[0]
        if inlet is None:
            raise NotFoundError(f"Inlet {inlet_id} was not found")
        return inlet

    def forget_inlet(self, inlet_id: str) -> None:
        self._inlets.pop(inlet_id, None)
        stale = [h for h, (t, _) in self._tokens.items() if t is None or t.inlet_id == inlet_id]
        for token_hash in stale:
            del self._tokens[token_hash]

    # tokens
    def check_token(self, inlet: Inlet, token: str) -> None:
        """Raise ForbiddenError unless ``token`` is a live token of ``inlet``."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise ForbiddenError("The access token is not valid for this inlet")
        token_hash = hash_token(token)
        now = self._clock.now_ms()
        cached = self._tokens.get(token_hash)
        if cached is None or cached[1] <= now:
            record = _fresh(lambda: self._store.get_token(token_hash), cached)
            self._tokens[token_hash] = (record, now + self._ttl_ms)
        else:
            record = cached[0]
        if record is None or record.inlet_id != inlet.inlet_id:
            raise ForbiddenError("The access token is not valid for this inlet")
        if record.expires_ms is not None and record.expires_ms <= now:
            raise ForbiddenError("The access token has expired")

    # schemas
    def route(self, org_id: str, schema_id: str, version: int | None) -> Route:
        key = (org_id, schema_id, version)
        route = self._routes.get(key)
        if route is None:
            route = self._load_route(org_id, schema_id, version)
            self._routes[key] = route
        return route

    def forget_schema(self, schema_id: str) -> None:
        for key in [k for k in self._routes if k[1] == schema_id]:
            del self._routes[key]

    def _load_route(self, org_id: str, schema_id: str, version: int | None) -> Route:
        schema = self._store.get_schema(schema_id, version)
        if schema is None or schema.org_id != org_id:
            known = self._store.get_schema(schema_id)
            if known is not None and known.org_id == org_id and version is not None:
                raise MessageFormatError(
                    f"Schema {schema_id} has no version {version} (latest is {known.version})",
                    violations=(
                        Violation(
                            "/header/schemaRef/contentType",
                            "enum",
                            f"version {version} of the schema does not exist",
                        ),
                    ),
                )
            raise MessageFormatError(
                f"Unknown schema {schema_id} in org {org_id}",
                violations=(
                    Violation("/header/schemaRef/id", "enum", "no such schema in this org"),
                ),
            )
        datasets = self._store.list_datasets(org_id, schema_id)
        default = next((d.dataset_id for d in datasets if d.is_default), None)
        return Route(
            compiled=CompiledSchema.compile(schema),
            default_dataset_id=default,
            dataset_ids=frozenset(d.dataset_id for d in datasets),
            events=EventIndex.of(self._store.list_events(org_id, schema_id)),
        )

    def dataset_for(self, route: Route, dataset_id: str | None) -> str:
        if dataset_id is None:
            if route.default_dataset_id is None:
                raise InvalidRequestError(
                    "The schema has no default dataset; name one in header.datasetId",
                    violations=(Violation("/header/datasetId", "required", "datasetId needed"),),
                )
            return route.default_dataset_id
        if dataset_id not in route.dataset_ids:
            # A dataset created after the route was cached: look again once.
            schema = route.compiled.schema
            self.forget_schema(schema.schema_id)
            fresh = self.route(schema.org_id, schema.schema_id, schema.version)
            if dataset_id not in fresh.dataset_ids:
                raise InvalidRequestError(
                    f"Dataset {dataset_id} does not exist or does not belong to schema "
                    f"{schema.schema_id}",
                    violations=(
                        Violation(
                            "/header/datasetId", "enum", "not a dataset of the message's schema"
                        ),
                    ),
                )
        return dataset_id


def _fresh(read: Callable[[], T], cached: tuple[T, int] | None) -> T:
    """What the store says now; while the store fails (restarting, say), what it said last
    time, so inlets that were known keep taking messages."""
    try:
        return read()
    except StoreError:
        if cached is None:
            raise
        log.warning("the store failed; using what it said of this inlet before")
        return cached[0]
